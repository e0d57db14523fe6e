import { ValidationError } from '@tunnelfleet/common';

/**
 * Agent ids become part of a BullMQ queue name, which may not contain ':', and of a pub/sub
 * channel matched by a glob pattern, so only plain identifier characters are allowed.
 */
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The prefix of every key when none is configured. */
export const DEFAULT_REDIS_PREFIX = 'tunnelfleet';

/**
 * Names of everything the master keeps in Redis, all under one prefix (BullMQ's queue keys
 * included), so two masters can share a Redis with different prefixes.
 */
export interface RedisKeys {
  readonly prefix: string;
  /** Sorted set: member = agent id, score = last heartbeat (ms since epoch). */
  readonly heartbeats: string;
  /** Hash: agent id → JSON of the last reported state (cloudflared, Docker, uptime…). */
  readonly agentState: string;
  /** Set of agents already flagged offline, so each transition is reported once. */
  readonly offline: string;
  /** BullMQ queue name of an agent's commands: `agent-cmd-<agentId>`. */
  commandQueue(agentId: string): string;
  /** INCR counter of the agent's command versions. */
  commandVersion(agentId: string): string;
  /** Hash `{ jobId, expiresAt, attempt }` of the agent's command in flight. */
  commandLease(agentId: string): string;
  /** Pub/sub channel announcing "something changed in this agent's queue". */
  wakeChannel(agentId: string): string;
  /** Pattern covering every agent's wake channel: one subscription for the whole fleet. */
  readonly wakePattern: string;
  agentIdOfWakeChannel(channel: string): string | undefined;
  /** BullMQ queue name of the Cloudflare sync jobs. */
  readonly syncQueue: string;
  /** Pub/sub channel of "the fleet changed" notices the dashboard's event stream relays. */
  readonly fleetEvents: string;
}

export function createRedisKeys(prefix: string = DEFAULT_REDIS_PREFIX): RedisKeys {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new ValidationError('Redis key prefix', [
      { path: 'prefix', reason: 'letters, digits, "_" and "-" only' },
    ]);
  }
  const channelStart = `${prefix}:cmd:`;
  return {
    prefix,
    heartbeats: `${prefix}:heartbeats`,
    agentState: `${prefix}:agent-state`,
    offline: `${prefix}:offline`,
    commandQueue: (agentId) => `agent-cmd-${agentId}`,
    commandVersion: (agentId) => `${prefix}:cmd-version:${agentId}`,
    commandLease: (agentId) => `${prefix}:cmd-lease:${agentId}`,
    wakeChannel: (agentId) => `${channelStart}${agentId}`,
    wakePattern: `${channelStart}*`,
    agentIdOfWakeChannel: (channel) =>
      channel.startsWith(channelStart) ? channel.slice(channelStart.length) : undefined,
    syncQueue: 'cf-sync',
    fleetEvents: `${prefix}:fleet-events`,
  };
}

/** Agent ids are issued by the master; a bad one here is a bug upstream, reported as such. */
export function assertAgentId(agentId: string): void {
  if (!AGENT_ID.test(agentId)) {
    throw new ValidationError('agent id', [
      {
        path: 'agentId',
        reason: '1 to 128 letters, digits, "_", "." or "-", starting with a letter or digit',
      },
    ]);
  }
}
