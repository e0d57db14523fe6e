export * from './command-gateway.js';
export type { CommandRequest } from './command-job.js';
export { CommandQueueUnavailableError } from './command-queue-unavailable-error.js';
