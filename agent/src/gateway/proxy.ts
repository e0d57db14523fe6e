import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '@tunnelfleet/common';
import { errors } from 'undici';
import type { BackendPools } from './backend-pools.js';
import { endToEnd, upstreamHeaders } from './forwarded-headers.js';
import { type GatewayRoute, hostOf } from './routing-table.js';
import type { TableStore } from './table-store.js';

export interface Proxy {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** The request's path without its query: what routes match on. */
function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/** What the client is told when the backend fails: 504 for a timeout, else 502. */
function failureStatus(error: unknown): number {
  if (
    error instanceof errors.ConnectTimeoutError ||
    error instanceof errors.HeadersTimeoutError ||
    error instanceof errors.BodyTimeoutError
  )
    return 504;
  return 502;
}

function answer(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    // Too late for a status: cut the response so the client sees it incomplete, not whole.
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

/**
 * Forwards a request to the backend of the route it matches. Bodies stream both ways (undici's
 * `stream` writes the response into `res` as it arrives and reads the request from `req`), so a
 * large upload or download is never held in memory.
 */
export function createProxy(options: { tables: TableStore; pools: BackendPools; logger: Logger }): Proxy {
  const logger = options.logger.child({ component: 'proxy' });

  const route = (req: IncomingMessage): GatewayRoute | undefined =>
    // Read once: a table swapped while this request runs does not change it.
    options.tables.current()?.lookup(hostOf(req.headers.host), pathOf(req.url));

  return {
    handleRequest(req, res) {
      const target = route(req);
      if (!target) {
        answer(res, 404, 'no route for this host and path');
        return;
      }
      const hasBody =
        req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      const abort = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      options.pools
        .get(target.backend.url)
        .stream(
          {
            path: req.url ?? '/',
            method: req.method ?? 'GET',
            headers: upstreamHeaders(req),
            body: hasBody ? req : null,
            signal: abort.signal,
            opaque: res,
          },
          ({ statusCode, headers, opaque }) => {
            const response = opaque as ServerResponse;
            response.writeHead(statusCode, endToEnd(headers));
            return response;
          },
        )
        .catch((error: unknown) => {
          if (abort.signal.aborted) return;
          logger.warn(
            { err: error, route: target.id, backend: target.backend.url },
            'backend request failed',
          );
          answer(res, failureStatus(error), 'the backend did not answer');
        });
    },

    handleUpgrade(req, socket, head) {
      const target = route(req);
      if (!target) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      socket.on('error', () => socket.destroy());
      options.pools
        .get(target.backend.url)
        .upgrade({
          path: req.url ?? '/',
          method: req.method ?? 'GET',
          headers: upstreamHeaders(req),
          protocol: String(req.headers.upgrade ?? 'websocket'),
        })
        .then(({ headers, socket: upstream }) => {
          const lines = ['HTTP/1.1 101 Switching Protocols'];
          for (const [name, value] of Object.entries(headers)) {
            for (const item of Array.isArray(value) ? value : [value])
              if (item !== undefined) lines.push(`${name}: ${item}`);
          }
          socket.write(`${lines.join('\r\n')}\r\n\r\n`);
          if (head.length > 0) upstream.write(head);
          upstream.on('error', () => socket.destroy());
          socket.on('close', () => upstream.destroy());
          upstream.on('close', () => socket.destroy());
          upstream.pipe(socket);
          socket.pipe(upstream);
        })
        .catch((error: unknown) => {
          logger.warn(
            { err: error, route: target.id, backend: target.backend.url },
            'backend upgrade failed',
          );
          const status = failureStatus(error);
          socket.end(
            `HTTP/1.1 ${status} ${status === 504 ? 'Gateway Timeout' : 'Bad Gateway'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
          );
        });
    },
  };
}
