import { z } from 'zod';

/** Where the Docker API is: a unix socket, or a TCP endpoint such as a socket proxy. */
export type DockerEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; protocol: 'http' | 'https' };

function parse(raw: string): DockerEndpoint | string {
  if (raw.startsWith('/')) return { kind: 'unix', socketPath: raw };
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length);
    return socketPath.startsWith('/')
      ? { kind: 'unix', socketPath }
      : 'a unix socket needs an absolute path (unix:///path)';
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be unix:///path/to/docker.sock or tcp://host:port';
  }
  if (!['tcp:', 'http:', 'https:'].includes(url.protocol)) {
    return `scheme ${url.protocol} is not supported (unix://, tcp://, http://, https://)`;
  }
  if (url.hostname === '') return 'names no host';
  if (url.pathname !== '' && url.pathname !== '/') return 'a path prefix is not supported';
  const protocol = url.protocol === 'https:' ? 'https' : 'http';
  const port = url.port === '' ? (protocol === 'https' ? 2376 : 2375) : Number(url.port);
  // URL keeps the brackets of an IPv6 literal; the HTTP agent wants the bare address.
  return { kind: 'tcp', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, protocol };
}

/**
 * `DOCKER_HOST`: `unix:///var/run/docker.sock` (or a bare absolute path), `tcp://socket-proxy:2375`,
 * `http(s)://host:port`. A socket proxy listens on plain HTTP, so tcp:// means http.
 */
export function envDockerHost() {
  return z.string().transform((text, ctx): DockerEndpoint => {
    const result = parse(text.trim());
    if (typeof result !== 'string') return result;
    ctx.addIssue({ code: 'custom', message: result });
    return z.NEVER;
  });
}
