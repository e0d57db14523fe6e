import type { Redis } from 'ioredis';
import { type AgentState, type HeartbeatStore, MISSED_INTERVALS_OFFLINE } from '../agents/heartbeats.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * A heartbeat in one command (every host sends one every 30 s): the state it replaces (for alerts
 * on changes), the new state, presence, and whether the host had been flagged offline (1 or 0).
 */
const RECORD_HEARTBEAT = `
local before = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {before, redis.call('SREM', KEYS[3], ARGV[1])}`;

/**
 * Heartbeats live in Redis only (thousands of agents every 30 s would be needless SQLite writes);
 * SQLite keeps a coarse `last_seen_at` updated when an agent goes offline or re-registers.
 * `now` is injectable so tests can move time instead of sleeping.
 */
export function createHeartbeatStore(options: {
  redis: Redis;
  keys: RedisKeys;
  intervalSeconds: number;
  now?: () => number;
}): HeartbeatStore {
  const { redis, keys } = options;
  const now = options.now ?? Date.now;
  const offlineAfterMs = options.intervalSeconds * 1000 * MISSED_INTERVALS_OFFLINE;

  async function touch(agentId: string): Promise<boolean> {
    const results = await redis
      .multi()
      .zadd(keys.heartbeats, now(), agentId)
      .srem(keys.offline, agentId)
      .exec();
    return results?.[1]?.[1] === 1;
  }

  return {
    async record(agentId, request) {
      const { agentId: _omit, ...state } = request;
      const entry: AgentState = { ...state, receivedAt: new Date(now()).toISOString() };
      // A script, not MULTI: one command instead of six, and its client-side objects, per beat.
      const [before, removedFromOffline] = (await redis.eval(
        RECORD_HEARTBEAT,
        3,
        keys.agentState,
        keys.heartbeats,
        keys.offline,
        agentId,
        JSON.stringify(entry),
        now(),
      )) as [string | null, number];
      const previous = typeof before === 'string' ? (JSON.parse(before) as AgentState) : null;
      return { cameBack: removedFromOffline === 1, previous };
    },
    async touch(agentId) {
      return { cameBack: await touch(agentId) };
    },
    async lastSeen(agentIds) {
      const seen = new Map<string, number>();
      if (agentIds.length === 0) return seen;
      const scores = await redis.zmscore(keys.heartbeats, ...agentIds);
      agentIds.forEach((id, i) => {
        const score = scores[i];
        if (score !== null && score !== undefined) seen.set(id, Number(score));
      });
      return seen;
    },
    async lastState(agentId) {
      const text = await redis.hget(keys.agentState, agentId);
      return text ? (JSON.parse(text) as AgentState) : null;
    },
    isOnline(lastSeenMs) {
      return lastSeenMs !== undefined && now() - lastSeenMs < offlineAfterMs;
    },
    countOnline() {
      return redis.zcount(keys.heartbeats, `(${now() - offlineAfterMs}`, '+inf');
    },
    async flagOffline() {
      const silent = await redis.zrangebyscore(keys.heartbeats, '-inf', now() - offlineAfterMs);
      if (silent.length === 0) return [];
      const already = await redis.smismember(keys.offline, ...silent);
      const newly = silent.filter((_, i) => already[i] !== 1);
      if (newly.length > 0) await redis.sadd(keys.offline, ...newly);
      return newly;
    },
    async forget(agentId) {
      await redis
        .multi()
        .zrem(keys.heartbeats, agentId)
        .hdel(keys.agentState, agentId)
        .srem(keys.offline, agentId)
        .exec();
    },
  };
}
