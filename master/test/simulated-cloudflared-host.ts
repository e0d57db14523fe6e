import { randomUUID } from 'node:crypto';
import { AGENT_ROUTES, type Command } from '@tunnelfleet/common';
import type { MasterFixture } from './master-test-fixture.js';

/**
 * An agent and its cloudflared as the master sees them, over the real agent API and the emulator's
 * edge: it applies `start_tunnel` and `update_tunnel` (image, token), and while its image is one
 * `runs` accepts it connects to the edge as a fresh connector and heartbeats ready. What it
 * reports can be bent (`lie`) to play a host that claims more than it did.
 */
export interface SimulatedHost {
  readonly agentId: string;
  readonly name: string;
  image: string | undefined;
  /** Every image it was told to run, in order. */
  readonly imagesSent: string[];
  /** One round: applies queued commands, connects if its image runs, heartbeats. */
  step(): Promise<void>;
  /** Reports a ready cloudflared on `image` with a connector that never connected. */
  lie(image: string): void;
}

export async function simulateHost(
  fx: MasterFixture,
  name: string,
  runs: (image: string) => boolean,
): Promise<SimulatedHost> {
  const { key, agentId } = await fx.enrollAgent({ name });
  let token: string | undefined;
  let tunnelId: string | undefined;
  let connectorId: string | undefined;
  let lastApplied: number | null = null;
  let liar: string | undefined;
  const imagesSent: string[] = [];

  const apply = (command: Command) => {
    if (command.type === 'start_tunnel') {
      token = command.payload.token;
      tunnelId = command.payload.tunnelId;
      host.image = command.payload.cloudflaredImage;
      imagesSent.push(host.image);
      connectorId = randomUUID();
    } else if (command.type === 'update_tunnel') {
      if (command.payload.token) token = command.payload.token;
      const image = command.payload.cloudflaredImage;
      if (image) imagesSent.push(image);
      // Like the agent: a new image is a new container, so a new connector.
      if (image && image !== host.image) connectorId = randomUUID();
      host.image = image ?? host.image;
    } else {
      host.image = undefined;
    }
  };

  const host: SimulatedHost = {
    agentId,
    name,
    image: undefined,
    imagesSent,
    lie(image) {
      liar = image;
    },
    async step() {
      for (;;) {
        const next = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=0`, { token: key });
        const command = next.body?.command as Command | null | undefined;
        if (!command) break;
        apply(command);
        lastApplied = command.version;
        await fx.acknowledge(key, command);
      }
      let ready = false;
      if (host.image && token && runs(host.image) && !liar) {
        const connected = await fetch(`${fx.emulator.edgeUrl}/edge/v1/connect`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token, connector_id: connectorId, version: 'simulated' }),
        });
        ready = connected.ok;
      }
      const image = liar ?? host.image ?? null;
      await fx.request('POST', AGENT_ROUTES.heartbeat, {
        token: key,
        body: {
          agentId,
          uptimeSeconds: 10,
          cloudflared: {
            state: host.image ? 'running' : 'stopped',
            ready: ready || liar !== undefined,
            tunnelId: tunnelId ?? null,
            containerId: null,
            image,
            ...(ready || liar ? { connectorId: liar ? randomUUID() : connectorId } : {}),
          },
          lastAppliedCommandVersion: lastApplied,
          dockerReachable: true,
        },
      });
    },
  };
  return host;
}
