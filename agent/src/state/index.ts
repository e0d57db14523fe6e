export { createTunnelStateCache, type TunnelStateCache } from './tunnel-state-cache.js';
