export { type ContainerWatcher, createContainerWatcher } from './container-watcher.js';
export { createDockerClient } from './docker-host.js';
export { createNetworkEnsurer, type NetworkEnsurer } from './network-ensurer.js';
