export {
  MasterBusyError,
  MasterClientError,
  MasterForbiddenError,
  MasterRateLimitedError,
  MasterServerError,
  MasterUnreachableError,
} from './errors.js';
export { createMasterClient, type MasterClient } from './master-client.js';
export { createMasterLink, type MasterLink, type MasterLinkState } from './master-link.js';
export { pause } from './pause.js';
export { createRetryDelay, type RetryDelayOptions } from './retry-delay.js';
