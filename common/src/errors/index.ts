export * from './config-error.js';
export * from './http-error-body.js';
export * from './request-errors.js';
export * from './tunnelfleet-error.js';
export * from './validation-error.js';
