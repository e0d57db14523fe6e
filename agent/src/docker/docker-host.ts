import { ConfigError } from '@tunnelfleet/common';
import Docker from 'dockerode';

/** Where the Docker API is: a unix socket, or a TCP endpoint such as a socket proxy. */
export type DockerEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; protocol: 'http' | 'https' };

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

const EXAMPLE = 'unix:///var/run/docker.sock';

function invalid(reason: string): ConfigError {
  return new ConfigError([{ variable: 'DOCKER_HOST', reason, example: EXAMPLE }]);
}

/**
 * Parses `DOCKER_HOST` (`unix:///path`, a bare `/path`, `tcp://host:port`, `http(s)://host:port`).
 * Absent or empty means the default socket. A socket proxy such as tecnativa's listens on plain HTTP.
 */
export function parseDockerHost(value: string | undefined): DockerEndpoint {
  const raw = value?.trim() ?? '';
  if (raw === '') return { kind: 'unix', socketPath: DEFAULT_DOCKER_SOCKET };
  if (raw.startsWith('/')) return { kind: 'unix', socketPath: raw };
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    if (!socketPath.startsWith('/')) {
      throw invalid(`"${raw}": a unix socket needs an absolute path (unix:///path)`);
    }
    return { kind: 'unix', socketPath };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(`"${raw}" is not understood: use unix:///path or tcp://host:port`);
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`"${raw}": scheme ${url.protocol} is not supported (unix://, tcp://, http://, https://)`);
  }
  if (url.hostname === '') throw invalid(`"${raw}" names no host`);
  if (url.pathname !== '' && url.pathname !== '/') {
    throw invalid(`"${raw}": a path prefix is not supported`);
  }
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port === '' ? (protocol === 'https' ? 2376 : 2375) : Number(url.port);
  // URL keeps the brackets of an IPv6 literal; the HTTP agent wants the bare address.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'tcp', host, port, protocol };
}

/**
 * Every option is set explicitly: docker-modem otherwise fills gaps from `process.env.DOCKER_HOST`,
 * which would let the environment override what was parsed and validated here.
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
