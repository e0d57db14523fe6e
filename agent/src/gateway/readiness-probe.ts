import { connect } from 'node:net';
import type { GatewayRoute } from '@tunnelfleet/common';
import { request } from 'undici';

/**
 * Whether the backend of `route` serves: a GET of its health path answering 2xx, else a TCP
 * connect to its port. A name that does not resolve (a stopped container has no DNS entry on its
 * network) is simply not ready.
 */
export async function probeBackend(route: GatewayRoute, timeoutMs: number): Promise<boolean> {
  const url = new URL(route.backend.url);
  const healthPath = route.wake?.healthPath;
  if (healthPath) {
    try {
      const response = await request(new URL(healthPath, url), {
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 300;
    } catch {
      return false;
    }
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return new Promise((resolve) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port, timeout: timeoutMs });
    const done = (ready: boolean) => {
      socket.destroy();
      resolve(ready);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}
