import type { Redis } from 'ioredis';
import { type AgentState, type HeartbeatStore, MISSED_INTERVALS_OFFLINE } from '../agents/heartbeats.js';
import type { RedisKeys } from './redis-keys.js';

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
      // One transaction, one round trip: the state it replaces, the new state, and presence.
      const results = await redis
        .multi()
        .hget(keys.agentState, agentId)
        .hset(keys.agentState, agentId, JSON.stringify(entry))
        .zadd(keys.heartbeats, now(), agentId)
        .srem(keys.offline, agentId)
        .exec();
      const before = results?.[0]?.[1];
      const previous = typeof before === 'string' ? (JSON.parse(before) as AgentState) : null;
      return { cameBack: results?.[3]?.[1] === 1, previous };
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
