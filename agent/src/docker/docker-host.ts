import type { DockerEndpoint } from '@tunnelfleet/common';
import Docker from 'dockerode';

/**
 * A dockerode client for an endpoint parsed from `DOCKER_HOST` by the config loader. Every option
 * is set explicitly: docker-modem otherwise fills gaps from `process.env.DOCKER_HOST`, which would
 * let the raw environment override the validated value.
 */
export function createDockerClient(endpoint: DockerEndpoint): Docker {
  if (endpoint.kind === 'unix') {
    return new Docker({ socketPath: endpoint.socketPath, host: undefined, port: undefined });
  }
  return new Docker({
    socketPath: undefined,
    host: endpoint.host,
    port: endpoint.port,
    protocol: endpoint.protocol,
  });
}
