export * from './create-logger.js';
export * from './log-level.js';
export * from './mask-secrets.js';
export { REDACT_PATHS, REDACTED } from './redact-paths.js';
export { isSecretFieldName, scrubSecretFields } from './scrub-secret-fields.js';
