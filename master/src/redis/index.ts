export {
  type AgentCommandQueues,
  type CommandJob,
  createAgentCommandQueues,
} from './agent-command-queues.js';
export { createHeartbeatStore } from './heartbeat-store.js';
export { createRedisClient, type ManagedRedisClient, type RedisConnectionOptions } from './redis-client.js';
export { assertAgentId, createRedisKeys, DEFAULT_REDIS_PREFIX, type RedisKeys } from './redis-keys.js';
export { openWakeChannel, type WakeChannel } from './wake-channel.js';
