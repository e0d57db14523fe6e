import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';

/** INCR, raised above a floor when the counter is behind it (e.g. Redis restored without data). */
const NEXT_VERSION = `
local version = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if version <= floor then
  version = floor + 1
  redis.call('SET', KEYS[1], version)
end
return version`;

export interface CommandVersions {
  /** The agent's next command version, above `floor` whatever Redis remembers. */
  next(agentId: string, floor: number): Promise<number>;
}

/** One counter per agent (`<prefix>:cmd-version:<agentId>`), kept when the agent's queue is deleted. */
export function createCommandVersions(client: Redis, keys: RedisKeys): CommandVersions {
  return {
    async next(agentId, floor) {
      return Number(await client.eval(NEXT_VERSION, 1, keys.commandVersion(agentId), floor));
    },
  };
}
