export { loadSleepingContainers, type SleepingContainers } from './sleeping-containers.js';
export { createTunnelStateCache, type TunnelStateCache } from './tunnel-state-cache.js';
