export * from './api-token.js';
export * from './container-spec.js';
export * from './gateway-client.js';
export * from './gateway-heartbeat.js';
export * from './gateway-traffic.js';
export * from './supervisor.js';
