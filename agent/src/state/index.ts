export {
  createTunnelStateCache,
  type TunnelStateCache,
  type TunnelStateCacheOptions,
} from './tunnel-state-cache.js';
