import type { HeartbeatRequest } from '@tunnelfleet/common';

/** An agent missing this many heartbeat intervals is offline. */
export const MISSED_INTERVALS_OFFLINE = 3;

export interface AgentState extends Omit<HeartbeatRequest, 'agentId' | 'gatewayTraffic'> {
  receivedAt: string;
}

/** Presence of agents: kept in Redis by `master/src/redis/heartbeat-store.ts`. */
export interface HeartbeatStore {
  /**
   * Records a heartbeat; `cameBack` is true when the agent had been flagged offline, `previous` is
   * the state it replaced (for alerts on changes).
   */
  record(
    agentId: string,
    request: Omit<HeartbeatRequest, 'gatewayTraffic'>,
  ): Promise<{ cameBack: boolean; previous: AgentState | null }>;
  /** Presence for a registration or any request that proves the agent is alive. */
  touch(agentId: string): Promise<{ cameBack: boolean }>;
  lastSeen(agentIds: readonly string[]): Promise<Map<string, number>>;
  lastState(agentId: string): Promise<AgentState | null>;
  isOnline(lastSeenMs: number | undefined): boolean;
  countOnline(): Promise<number>;
  /** Flags agents silent for three intervals; returns only those newly flagged. */
  flagOffline(): Promise<string[]>;
  forget(agentId: string): Promise<void>;
}
