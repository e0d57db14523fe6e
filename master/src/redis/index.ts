export {
  type AgentCommandQueues,
  type CommandJob,
  createAgentCommandQueues,
} from './agent-command-queues.js';
export { type CommandLease, type CommandLeases, createCommandLeases } from './command-leases.js';
export { type CommandVersions, createCommandVersions } from './command-versions.js';
export { type FleetEventsChannel, openFleetEventsChannel } from './fleet-events-channel.js';
export { createHeartbeatStore } from './heartbeat-store.js';
export { createRedisClient, type ManagedRedisClient, type RedisConnectionOptions } from './redis-client.js';
export { assertAgentId, createRedisKeys, DEFAULT_REDIS_PREFIX, type RedisKeys } from './redis-keys.js';
export { createSyncJobQueue, type SyncJobQueue } from './sync-job-queue.js';
export { openWakeChannel, type WakeChannel } from './wake-channel.js';
