export {
  AGENT_VERSION,
  type Agent,
  type AgentDeps,
  type AgentTuning,
  createAgent,
  DEFAULT_CLOUDFLARED_METRICS_PORT,
  REVOKED_KEY_MESSAGE,
  startAgent,
} from './agent.js';
export { AGENT_DOCKER_PERMISSIONS, type AgentDockerPermission } from './docker/socket-proxy-permissions.js';
export { HEALTH_PATH, type HealthReport } from './health/index.js';
