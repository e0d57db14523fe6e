import { AGENT_ROUTES } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import {
  expectConverged,
  publishLabels,
  routesOf,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  waitPublished,
  waitUnpublished,
} from './support.js';

const fleet = useFleet({ secondEngine: 'docker4' });

describe('revoking one agent', { timeout: 120_000 }, () => {
  it('cuts that host off the master and the edge while the other host keeps working', async () => {
    const { a, b, admin, emulator, master } = fleet();
    const onA = uniqueHostname('revoked');
    const onB = uniqueHostname('survivor');
    await Promise.all([
      a.runContainer({ labels: publishLabels(onA) }),
      b.runContainer({ labels: publishLabels(onB) }),
    ]);
    await Promise.all([waitPublished(fleet(), a, onA), waitPublished(fleet(), b, onB)]);
    const [agentA, tunnelA, tunnelB] = await Promise.all([
      a.agentId(),
      tunnelIdOf(fleet(), a),
      tunnelIdOf(fleet(), b),
    ]);
    await fleet().collectSecrets();
    const tokenA = (await a.agent.tunnelState())?.token;
    expect(typeof tokenA).toBe('string');

    // Host B's edge connection is watched through the whole revocation: it must never drop.
    let bLostEdge = false;
    const watching = setInterval(() => {
      if (emulator.tunnelConnections(tunnelB).length === 0) bLostEdge = true;
    }, 100);

    try {
      // A long-poll held open with A's key, as the agent's own command loop does.
      const poll = fetch(`${master.url}${AGENT_ROUTES.commandsNext}?waitSeconds=30`, {
        headers: { authorization: `Bearer ${a.apiKey}` },
      }).then((response) => response.status);
      let pollStatus: number | undefined;
      void poll.then((status) => {
        pollStatus = status;
      });
      await waitFor(async () => (await admin.agent(agentA)).online, { description: 'host A online' });

      await admin.revokeAgent(agentA);

      // The open long-poll ends at once (well before its 30 s), refused.
      await waitFor(() => pollStatus, { description: "A's long-poll to end", timeoutMs: 10_000 });
      expect(pollStatus).toBe(401);
      // The very next request with A's key is refused.
      const heartbeat = await fetch(`${master.url}${AGENT_ROUTES.heartbeat}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          agentId: agentA,
          uptimeSeconds: 1,
          cloudflared: { state: 'running', ready: true, tunnelId: tunnelA, containerId: null },
          lastAppliedCommandVersion: null,
          dockerReachable: true,
        }),
      });
      expect(heartbeat.status).toBe(401);
      // The agent process itself notices on its own open long-poll and says so.
      await waitFor(async () => /API key rejected by the master/.test(await a.agent.logs()), {
        description: "host A's agent to log the revoked key",
        timeoutMs: 15_000,
      });

      // A's tunnel is deleted or its token rotated: its cloudflared loses the edge and stops.
      await waitFor(() => emulator.tunnelConnections(tunnelA).length === 0, {
        description: "host A's cloudflared to lose the edge",
        timeoutMs: 30_000,
      });
      await waitFor(async () => (await a.cloudflared()).every((c) => c.State !== 'running'), {
        description: "host A's cloudflared container to stop",
        timeoutMs: 30_000,
      });
      // Deleted (404) or rotated (401): A's old token no longer gets anyone onto the edge.
      const edge = await fetch(`${emulator.edgeUrl.replace(/\/\/[^:]+:/, '//127.0.0.1:')}/edge/v1/connect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: tokenA, connector_id: 'e2e-probe', version: 'e2e' }),
      });
      expect([401, 404]).toContain(edge.status);

      // A's routes are marked and its hostname leaves Cloudflare.
      await waitUnpublished(fleet(), onA);
      expect((await routesOf(fleet(), onA)).map((r) => r.status)).toEqual(['revoked']);

      // B never noticed: still published, still connected, and still publishing new containers.
      const later = uniqueHostname('after-revocation');
      await b.runContainer({ labels: publishLabels(later) });
      await Promise.all([waitPublished(fleet(), b, onB), waitPublished(fleet(), b, later)]);
      expect(bLostEdge).toBe(false);
      expect((await admin.agent(await b.agentId())).status).toBe('approved');
      await expectConverged(fleet());
    } finally {
      clearInterval(watching);
    }
  });
});
