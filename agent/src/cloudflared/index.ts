export { cloudflaredMetricsNetwork } from './container-spec.js';
export { createSharedConnectors, type SharedConnectors } from './shared-connectors.js';
export {
  type CloudflaredStatus,
  type CloudflaredSupervisor,
  createCloudflaredSupervisor,
  runningFor,
} from './supervisor.js';
export { checkTunnelTokenShape } from './tunnel-token.js';
