import { createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago. Another process may take it before the
 * caller binds it: callers that cannot listen on port 0 themselves retry on EADDRINUSE.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`could not read the port of a listening socket on ${host}`));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
