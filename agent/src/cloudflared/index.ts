export {
  type CloudflaredStatus,
  type CloudflaredSupervisor,
  createCloudflaredSupervisor,
} from './supervisor.js';
