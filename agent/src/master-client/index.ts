export * from './errors.js';
export {
  createMasterClient,
  type MasterClient,
  type MasterClientOptions,
  type NextCommandOptions,
} from './master-client.js';
export {
  createMasterLink,
  type MasterLink,
  type MasterLinkListener,
  type MasterLinkState,
} from './master-link.js';
export { pause } from './pause.js';
export {
  createRetryDelay,
  DEFAULT_RETRY_DELAY,
  type RetryDelay,
  type RetryDelayOptions,
} from './retry-delay.js';
