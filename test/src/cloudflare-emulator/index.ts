export type { CallRecord } from './call-log.js';
export type { FaultSettings } from './faults.js';
export {
  type CloudflareEmulator,
  type CloudflareEmulatorOptions,
  startCloudflareEmulator,
} from './server.js';
export type { SpecValidator, SpecViolation } from './spec-validator.js';
export { loadSpecValidator } from './spec-validator.js';
export { decodeTunnelToken, encodeTunnelToken, type TunnelTokenPayload } from './tunnel-token.js';
