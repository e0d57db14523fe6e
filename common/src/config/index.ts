export * from './agent-config.js';
export * from './cloudflare-tokens.js';
export * from './docker-host.js';
export * from './env-parsers.js';
export * from './env-var.js';
export * from './load-config.js';
export * from './master-config.js';
export * from './render-env-example.js';
