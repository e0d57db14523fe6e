import { ValidationError } from '@tunnelfleet/common';

/**
 * Agent ids become part of a BullMQ queue name, which may not contain ':', and of a pub/sub
 * channel matched by a glob pattern, so only plain identifier characters are allowed.
 */
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Names of what the gateway keeps in Redis, all under one prefix (BullMQ's queue keys included). */
export interface CommandKeys {
  readonly prefix: string;
  /** BullMQ queue name: `agent-cmd-<agentId>`. */
  queueName(agentId: string): string;
  /** INCR counter of the agent's command versions. */
  version(agentId: string): string;
  /** Hash `{ jobId, expiresAt, attempt }` of the agent's command in flight. */
  lease(agentId: string): string;
  /** Pub/sub channel announcing "something changed in this agent's queue". */
  wakeChannel(agentId: string): string;
  /** Pattern covering every agent's wake channel: one subscription for the whole fleet. */
  readonly wakePattern: string;
  agentIdOfWakeChannel(channel: string): string | undefined;
}

export function commandKeys(prefix: string): CommandKeys {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new ValidationError('command gateway options', [
      { path: 'prefix', reason: 'letters, digits, "_" and "-" only' },
    ]);
  }
  const channelStart = `${prefix}:cmd:`;
  return {
    prefix,
    queueName: (agentId) => `agent-cmd-${agentId}`,
    version: (agentId) => `${prefix}:cmd-version:${agentId}`,
    lease: (agentId) => `${prefix}:cmd-lease:${agentId}`,
    wakeChannel: (agentId) => `${channelStart}${agentId}`,
    wakePattern: `${channelStart}*`,
    agentIdOfWakeChannel: (channel) =>
      channel.startsWith(channelStart) ? channel.slice(channelStart.length) : undefined,
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
