export { CLOUDFLARED_LABELS, cloudflaredContainerName, tokenHash } from './container-spec.js';
export { CloudflaredImageUnavailableError, CloudflaredNameTakenError } from './errors.js';
export {
  type CloudflaredDesired,
  type CloudflaredRunning,
  type CloudflaredState,
  type CloudflaredStatus,
  type CloudflaredStopped,
  type CloudflaredSupervisor,
  type CloudflaredSupervisorOptions,
  createCloudflaredSupervisor,
} from './supervisor.js';
