import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';

/** The agent's command in flight: delivered, not acknowledged yet. */
export interface CommandLease {
  jobId: string;
  /** Ms since epoch; after it the command is delivered again. */
  expiresAt: number;
  /** Deliveries so far, this one included. */
  attempt: number;
}

export interface CommandLeases {
  read(agentId: string): Promise<CommandLease | undefined>;
  write(agentId: string, lease: CommandLease): Promise<void>;
  /** Drops the agent's lease; with `jobId`, only if it is that job's. */
  clear(agentId: string, jobId?: string): Promise<void>;
}

/** One small hash per agent (`<prefix>:cmd-lease:<agentId>`). */
export function createCommandLeases(client: Redis, keys: RedisKeys): CommandLeases {
  const read = async (agentId: string): Promise<CommandLease | undefined> => {
    const raw = await client.hgetall(keys.commandLease(agentId));
    if (raw.jobId === undefined) return undefined;
    return { jobId: raw.jobId, expiresAt: Number(raw.expiresAt), attempt: Number(raw.attempt) };
  };
  return {
    read,
    async write(agentId, lease) {
      await client.hset(keys.commandLease(agentId), lease);
    },
    async clear(agentId, jobId) {
      if (jobId !== undefined && (await read(agentId))?.jobId !== jobId) return;
      await client.del(keys.commandLease(agentId));
    },
  };
}
