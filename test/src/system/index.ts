export * from './admin-client.js';
export * from './agent-process.js';
export * from './cloudflare-account.js';
export * from './fleet.js';
export * from './master-process.js';
export * from './node-service.js';
export * from './second-docker-engine.js';
export * from './secret-scan.js';
