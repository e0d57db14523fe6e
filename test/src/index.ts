export * from './cloudflare-emulator/index.js';
export * from './harness/docker-engine.js';
export * from './harness/free-port.js';
export * from './harness/harness-error.js';
export * from './harness/redis-server.js';
export * from './harness/test-images.js';
export * from './harness/unique-name.js';
export * from './harness/wait-for.js';
