import type { HeartbeatRequest } from '@tunnelfleet/common';
import type { Redis } from 'ioredis';

/** Sorted set: member = agent id, score = last heartbeat (ms since epoch). */
export const HEARTBEATS_KEY = 'tunnelfleet:heartbeats';
/** Hash: agent id → JSON of the last reported state (cloudflared, Docker, uptime…). */
const AGENT_STATE_KEY = 'tunnelfleet:agent-state';
/** Set of agents already flagged offline, so each transition is reported once. */
const OFFLINE_KEY = 'tunnelfleet:offline';

/** An agent missing this many heartbeat intervals is offline. */
const MISSED_INTERVALS_OFFLINE = 3;

export interface AgentState extends Omit<HeartbeatRequest, 'agentId'> {
  receivedAt: string;
}

export interface HeartbeatStore {
  /** Records a heartbeat; `cameBack` is true when the agent had been flagged offline. */
  record(agentId: string, request: HeartbeatRequest): Promise<{ cameBack: boolean }>;
  /** Presence for a registration or any request that proves the agent is alive. */
  touch(agentId: string): Promise<void>;
  lastSeen(agentIds: readonly string[]): Promise<Map<string, number>>;
  lastState(agentId: string): Promise<AgentState | null>;
  isOnline(lastSeenMs: number | undefined): boolean;
  countOnline(): Promise<number>;
  /** Flags agents silent for three intervals; returns only those newly flagged. */
  flagOffline(): Promise<string[]>;
  forget(agentId: string): Promise<void>;
}

/**
 * Heartbeats live in Redis only (thousands of agents every 30 s would be needless SQLite writes);
 * SQLite keeps a coarse `last_seen_at` updated when an agent goes offline or re-registers.
 * `now` is injectable so tests can move time instead of sleeping.
 */
export function createHeartbeatStore(options: {
  redis: Redis;
  intervalSeconds: number;
  now?: () => number;
}): HeartbeatStore {
  const { redis } = options;
  const now = options.now ?? Date.now;
  const offlineAfterMs = options.intervalSeconds * 1000 * MISSED_INTERVALS_OFFLINE;

  async function touch(agentId: string): Promise<boolean> {
    const results = await redis
      .multi()
      .zadd(HEARTBEATS_KEY, now(), agentId)
      .srem(OFFLINE_KEY, agentId)
      .exec();
    return results?.[1]?.[1] === 1;
  }

  return {
    async record(agentId, request) {
      const { agentId: _omit, ...state } = request;
      const entry: AgentState = { ...state, receivedAt: new Date(now()).toISOString() };
      await redis.hset(AGENT_STATE_KEY, agentId, JSON.stringify(entry));
      return { cameBack: await touch(agentId) };
    },
    async touch(agentId) {
      await touch(agentId);
    },
    async lastSeen(agentIds) {
      const seen = new Map<string, number>();
      if (agentIds.length === 0) return seen;
      const scores = await redis.zmscore(HEARTBEATS_KEY, ...agentIds);
      agentIds.forEach((id, i) => {
        const score = scores[i];
        if (score !== null && score !== undefined) seen.set(id, Number(score));
      });
      return seen;
    },
    async lastState(agentId) {
      const text = await redis.hget(AGENT_STATE_KEY, agentId);
      return text ? (JSON.parse(text) as AgentState) : null;
    },
    isOnline(lastSeenMs) {
      return lastSeenMs !== undefined && now() - lastSeenMs < offlineAfterMs;
    },
    countOnline() {
      return redis.zcount(HEARTBEATS_KEY, `(${now() - offlineAfterMs}`, '+inf');
    },
    async flagOffline() {
      const silent = await redis.zrangebyscore(HEARTBEATS_KEY, '-inf', now() - offlineAfterMs);
      if (silent.length === 0) return [];
      const already = await redis.smismember(OFFLINE_KEY, ...silent);
      const newly = silent.filter((_, i) => already[i] !== 1);
      if (newly.length > 0) await redis.sadd(OFFLINE_KEY, ...newly);
      return newly;
    },
    async forget(agentId) {
      await redis
        .multi()
        .zrem(HEARTBEATS_KEY, agentId)
        .hdel(AGENT_STATE_KEY, agentId)
        .srem(OFFLINE_KEY, agentId)
        .exec();
    },
  };
}
