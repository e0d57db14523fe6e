export { type RegisterAgentOptions, registerAgent } from './register-agent.js';
export { createReporter, type Reporter, type ReporterOptions, type SnapshotReason } from './reporter.js';
