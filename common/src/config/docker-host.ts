import { z } from 'zod';

/** Where the Docker API is: a unix socket, or a TCP endpoint such as a socket proxy. */
export type DockerEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number };

/** `unix:///var/run/docker.sock`, `tcp://socket-proxy:2375` (`http://` is accepted as tcp). */
export function envDockerHost() {
  return z.string().transform((text, ctx): DockerEndpoint => {
    const value = text.trim();
    if (value.startsWith('unix://')) {
      const socketPath = value.slice('unix://'.length);
      if (socketPath.startsWith('/')) return { kind: 'unix', socketPath };
    } else if (/^(tcp|http):\/\//.test(value)) {
      try {
        const url = new URL(value.replace(/^tcp:/, 'http:'));
        if (url.hostname && (url.pathname === '/' || url.pathname === '')) {
          return { kind: 'tcp', host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 2375) };
        }
      } catch {
        // reported below
      }
    }
    ctx.addIssue({
      code: 'custom',
      message: 'must be unix:///path/to/docker.sock or tcp://host:port (TLS endpoints are not supported)',
    });
    return z.NEVER;
  });
}
