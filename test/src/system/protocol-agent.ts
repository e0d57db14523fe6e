import {
  AGENT_ROUTES,
  type Command,
  type Container,
  commandAckPath,
  type HeartbeatRequest,
  type NextCommandResponse,
  type RegisterRequest,
  type RegisterResponse,
  type ReportResponse,
  snapshotFingerprint,
} from '@tunnelfleet/common';
import { HarnessError } from '../harness/harness-error.js';

/**
 * An agent that is only its protocol: it registers with a key and reports whatever containers a
 * test makes up, as a compromised or careless host could. No Docker engine and no cloudflared
 * behind it; everything it sends goes through the master's real HTTP API.
 */
export interface ProtocolAgent {
  readonly agentId: string;
  /** Sends a full snapshot of these containers; returns the master's answer. */
  report(containers: Container[]): Promise<{ status: number; body: ReportResponse | { error: unknown } }>;
  /** Registers again, with these fields added (e.g. other label prefixes); returns the master's answer. */
  register(extra: Partial<RegisterRequest>): Promise<{ status: number; body: unknown }>;
  /** Sends a heartbeat: a healthy cloudflared, with these fields added or replaced (e.g. `gateway`). */
  heartbeat(extra: Partial<HeartbeatRequest>): Promise<{ status: number; body: unknown }>;
  /** The next queued command, without waiting, acknowledged as applied; null when none is queued. */
  nextCommand(): Promise<Command | null>;
}

export async function connectProtocolAgent(
  masterUrl: string,
  key: string,
  name: string,
  /** More of the registration, e.g. `{ labelPrefixes: { dockflare: 'mycorp.' } }`. */
  extra: Partial<RegisterRequest> = {},
): Promise<ProtocolAgent> {
  const call = async (path: string, body: unknown) => {
    const response = await fetch(`${masterUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const registration = { name, agentVersion: '0.0.0-protocol', hostname: name, docker: null };
  const registered = await call(AGENT_ROUTES.register, { ...registration, ...extra });
  if (registered.status !== 200) {
    throw new HarnessError(
      `protocol agent ${name}: register answered ${registered.status}: ${JSON.stringify(registered.body)}`,
    );
  }
  const { agentId } = registered.body as RegisterResponse;
  let sequence = 0;
  return {
    agentId,
    async report(containers) {
      sequence += 1;
      const answer = await call(AGENT_ROUTES.reports, {
        agentId,
        sequence,
        observedAt: new Date().toISOString(),
        kind: 'snapshot',
        fingerprint: snapshotFingerprint(containers),
        containers,
      });
      return answer as { status: number; body: ReportResponse | { error: unknown } };
    },
    register: (more) => call(AGENT_ROUTES.register, { ...registration, agentId, ...more }),
    heartbeat: (more) =>
      call(AGENT_ROUTES.heartbeat, {
        agentId,
        uptimeSeconds: 1,
        cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
        lastAppliedCommandVersion: null,
        dockerReachable: true,
        ...more,
      }),
    async nextCommand() {
      const response = await fetch(`${masterUrl}${AGENT_ROUTES.commandsNext}?waitSeconds=0`, {
        headers: { authorization: `Bearer ${key}` },
      });
      if (response.status !== 200)
        throw new HarnessError(`protocol agent ${name}: commands/next answered ${response.status}`);
      const { command } = (await response.json()) as NextCommandResponse;
      if (command)
        await call(commandAckPath(command.id), {
          commandId: command.id,
          version: command.version,
          status: 'ok',
          result: { action: 'unchanged' },
        });
      return command;
    },
  };
}

/** A running container as an agent reports it, with these labels. */
export function reportedContainer(id: string, name: string, labels: Record<string, string>): Container {
  return { id: id.padEnd(64, '0'), name, labels, state: 'running', networks: {}, exposedPorts: [] };
}
