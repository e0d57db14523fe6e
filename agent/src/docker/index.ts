export { type Backoff, type BackoffOptions, createBackoff } from './backoff.js';
export { labelParseContext, normalizeContainer } from './container-info.js';
export {
  type ContainerWatcher,
  type ContainerWatcherOptions,
  createContainerWatcher,
  DEFAULT_RELIST_INTERVAL_MS,
  type ResyncReason,
} from './container-watcher.js';
export { createDockerClient } from './docker-host.js';
export { DEFAULT_LABEL_PREFIXES, hasTunnelLabels } from './label-match.js';
export { AGENT_DOCKER_PERMISSIONS, type AgentDockerPermission } from './socket-proxy-permissions.js';
