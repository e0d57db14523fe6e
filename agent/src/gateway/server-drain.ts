import type { Server } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

export interface DrainableServer {
  /**
   * Stops accepting connections and resolves once the open ones have ended: requests in flight
   * finish, every answer from now on says `Connection: close`, and idle kept-alive connections end
   * at their keep-alive timeout, which clients were told (`Keep-Alive: timeout=…`), so that none
   * sends a request on a connection as it is closed. What is still open after `limitMs`
   * (a WebSocket, a stuck upload) is cut.
   */
  drain(limitMs: number): Promise<void>;
}

/**
 * Makes an HTTP server drainable. Node's own `server.close()` closes idle kept-alive connections
 * at once: a request a client (cloudflared) writes on one at that moment fails. Draining lets the
 * client see each connection end first.
 */
export function makeDrainable(server: Server): DrainableServer {
  let draining = false;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Before the proxy's handler: its answer may be written at once.
  server.prependListener('request', (_request, response) => {
    if (draining) response.setHeader('connection', 'close');
  });
  return {
    drain(limitMs) {
      draining = true;
      return new Promise((resolve) => {
        const cut = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, limitMs);
        cut.unref();
        // net.Server's close: no new connections; its callback waits for the open ones to end.
        NetServer.prototype.close.call(server, () => {
          clearTimeout(cut);
          resolve();
        });
      });
    },
  };
}
