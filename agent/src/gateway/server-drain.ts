import type { Server } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

export interface DrainableServer {
  /**
   * Stops accepting connections, once none waits in the kernel's queue (those are answered, not
   * reset), and resolves once the open ones have ended: requests in flight
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
        closeOnceNoneQueued(server, Date.now() + limitMs, () =>
          NetServer.prototype.close.call(server, () => {
            clearTimeout(cut);
            resolve();
          }),
        );
      });
    },
  };
}

/**
 * Runs `close` once an event-loop iteration has accepted no connection. The kernel completes
 * connections on its own and queues them; the loop accepts one per iteration, and a listener
 * closed before it took them all would reset the rest: connections made while this process was
 * busy or waiting for a CPU (a stop signal under load arrives at just such a moment). Each hop is
 * two immediates, since the first may run in the iteration that called it, before its next poll.
 * Connections that never stop coming (a flood) are cut off at `deadline`.
 */
function closeOnceNoneQueued(server: Server, deadline: number, close: () => void): void {
  let accepted = 0;
  const count = () => {
    accepted += 1;
  };
  server.on('connection', count);
  const hop = (seen: number) => {
    if (accepted === seen || Date.now() >= deadline) {
      server.off('connection', count);
      close();
      return;
    }
    const acceptedBefore = accepted;
    setImmediate(() => setImmediate(() => hop(acceptedBefore)));
  };
  hop(-1);
}
