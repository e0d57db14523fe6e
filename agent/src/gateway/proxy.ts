import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayRoute, Logger } from '@tunnelfleet/common';
import { errors } from 'undici';
import type { BackendBalancer } from './backend-balancer.js';
import type { BackendPools } from './backend-pools.js';
import { createClientRateLimit } from './client-rate-limit.js';
import { endToEnd, upstreamHeaders } from './forwarded-headers.js';
import { type GatewayMetrics, NO_ROUTE } from './gateway-metrics.js';
import type { RequestMirror } from './request-mirror.js';
import { modifyHeaders, redirectLocation, rewritePath } from './route-filters.js';
import { hostnameServes, hostOf, type RouteGroup } from './routing-table.js';
import type { TableStore } from './table-store.js';
import type { WakeCoordinator } from './wake-coordinator.js';
import { failedPage, loadingPage, PAGE_HEADERS, WAKE_CSS, WAKE_PREFIX, WAKE_SCRIPT } from './wake-pages.js';

export interface Proxy {
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** The request's path and its query (without the `?`): routes match on both. */
function splitUrl(url: string | undefined): { path: string; query: string } {
  const raw = url ?? '/';
  const mark = raw.indexOf('?');
  return mark === -1 ? { path: raw, query: '' } : { path: raw.slice(0, mark), query: raw.slice(mark + 1) };
}

/** A request routed: the group it matched, the member chosen, and what the match saw. */
interface Routed {
  group: RouteGroup;
  target: GatewayRoute;
  path: string;
  query: string;
}

/** The path and query the backend is sent, after the route's URL rewrite. */
function backendPath({ group, target, path, query }: Routed): string {
  const prefix = target.filters?.rewrite?.pathPrefix;
  const rewritten = prefix === undefined ? path : rewritePath(path, group.matchSpan(path), prefix);
  return query ? `${rewritten}?${query}` : rewritten;
}

/** The backend's request headers: forwarded ones, the rewritten `Host`, the route's modifier. */
function backendHeaders(req: IncomingMessage, target: GatewayRoute): Record<string, string | string[]> {
  const headers = upstreamHeaders(req);
  const host = target.filters?.rewrite?.hostname;
  if (host !== undefined) headers.host = host;
  return modifyHeaders(headers, target.filters?.requestHeaders);
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

/**
 * The answer where a refused route would have matched. The reason stays out of it (it names
 * backends and labels, which are the operator's business): the master's route status shows it.
 */
const REFUSED_ANSWER = {
  error: {
    code: 'route_refused',
    message: "this route is not served: the host's gateway refused its configuration",
  },
};

/** Errors that mean the backend is not there (a stopped container has no address on its network). */
const GONE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** A browser gets the loading page; any other client (an API, curl) waits for the container. */
function wantsHtml(req: IncomingMessage): boolean {
  return String(req.headers.accept ?? '').includes('text/html');
}

/** The visitor's address: cloudflared's `CF-Connecting-IP`, else the peer. */
function clientAddress(req: IncomingMessage): string {
  const header = req.headers['cf-connecting-ip'];
  return (Array.isArray(header) ? header[0] : header) ?? req.socket.remoteAddress ?? '';
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
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
export function createProxy(options: {
  tables: TableStore;
  pools: BackendPools;
  balancer: BackendBalancer;
  mirror: RequestMirror;
  metrics: GatewayMetrics;
  wake: WakeCoordinator;
  logger: Logger;
}): Proxy {
  const logger = options.logger.child({ component: 'proxy' });
  const { wake, balancer, metrics } = options;
  // The loading page asks every 2 s (state) and 3 s (logs): once a second per visitor is plenty.
  const allowPoll = createClientRateLimit(1_000);

  /** undefined: no route; `target` undefined: a group whose members all have weight 0. */
  const route = (req: IncomingMessage): (Omit<Routed, 'target'> & { target?: GatewayRoute }) | undefined => {
    const { path, query } = splitUrl(req.url);
    // Read once: a table swapped while this request runs does not change it.
    const group = options.tables.current()?.lookup({
      host: hostOf(req.headers.host),
      path,
      method: req.method ?? 'GET',
      headers: req.headers,
      query,
    });
    return group && { group, target: group.refused ? undefined : balancer.pick(group), path, query };
  };

  /** `/_tunnelfleet/…`: the loading page's script and what it polls, for routes of this host only. */
  const serveWakeEndpoint = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    const name = url.pathname.slice(WAKE_PREFIX.length);
    if (name === 'wake.js') {
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'max-age=300',
      });
      res.end(WAKE_SCRIPT);
      return;
    }
    if (name === 'wake.css') {
      res.writeHead(200, { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'max-age=300' });
      res.end(WAKE_CSS);
      return;
    }
    if (name !== 'state' && name !== 'logs') {
      answer(res, 404, 'not found');
      return;
    }
    if (!allowPoll(`${clientAddress(req)} ${name}`)) {
      sendJson(
        res,
        429,
        { error: { code: 'rate_limited', message: 'at most one request a second' } },
        { 'retry-after': '1' },
      );
      return;
    }
    // Another host's route is as unknown as a missing one: a page never learns about other sites.
    const host = hostOf(req.headers.host);
    const target = options.tables
      .current()
      ?.table.routes.find((candidate) => candidate.id === url.searchParams.get('route') && candidate.wake);
    if (!target || !hostnameServes(target.hostname, host)) {
      sendJson(res, 404, {
        error: { code: 'not_found', message: 'no waking route of this host by that id' },
      });
      return;
    }
    if (name === 'state') {
      const failure = wake.state(target.id) === 'failed' ? wake.failure(target.id) : undefined;
      sendJson(res, 200, { state: wake.state(target.id), ...(failure ? { message: failure } : {}) });
    } else sendJson(res, 200, { lines: wake.logs(target.wake!.container) });
  };

  /** `retried`: this request already found the backend gone once; it is not sent around again. */
  const serveWaking = async (req: IncomingMessage, res: ServerResponse, routed: Routed, retried = false) => {
    const { target } = routed;
    wake.touch(target);
    if (await wake.isAwake(target)) {
      forward(req, res, routed, retried);
      return;
    }
    if (wake.state(target.id) === 'failed' && wantsHtml(req)) {
      // The start timed out: say so once, with the log lines; the next request tries again.
      res.writeHead(504, PAGE_HEADERS);
      res.end(failedPage(target, wake.logs(target.wake!.container), wake.failure(target.id)));
      void wake.wake(target);
      return;
    }
    const ready = wake.wake(target);
    if (wantsHtml(req)) {
      req.resume();
      res.writeHead(503, { ...PAGE_HEADERS, 'retry-after': '2' });
      res.end(loadingPage(target));
      return;
    }
    if (await ready) forward(req, res, routed, true);
    else {
      req.resume();
      const failure = wake.failure(target.id);
      if (failure) sendJson(res, 502, { error: { code: 'wake_failed', message: failure } });
      else
        sendJson(res, 504, {
          error: { code: 'start_timeout', message: `${target.hostname} did not become ready in time` },
        });
    }
  };

  const forward = (req: IncomingMessage, res: ServerResponse, routed: Routed, retried = false) => {
    const { group, target } = routed;
    const hasBody =
      req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const path = backendPath(routed);
    const headers = backendHeaders(req, target);
    const mirror = target.filters?.mirror;
    const body = mirror
      ? options.mirror.send(req, { origin: mirror.url, path, headers, hasBody }, () =>
          metrics.mirrorDropped(target.id),
        )
      : hasBody
        ? req
        : null;
    options.pools
      .get(target.backend.url)
      .stream(
        {
          path,
          method: req.method ?? 'GET',
          headers,
          body,
          signal: abort.signal,
          opaque: res,
        },
        ({ statusCode, headers: answered, opaque }) => {
          if (statusCode >= 500) balancer.failed(group, target);
          const response = opaque as ServerResponse;
          response.writeHead(statusCode, modifyHeaders(endToEnd(answered), target.filters?.responseHeaders));
          return response;
        },
      )
      .catch((error: unknown) => {
        if (abort.signal.aborted) return;
        const gone = GONE.has((error as NodeJS.ErrnoException).code ?? '');
        if (target.wake && gone) {
          wake.lost(target.id);
          // Stopped behind the gateway's back (docker stop): a request without a body is not
          // lost, it wakes the container like any other.
          if (!hasBody && !res.headersSent && !retried) {
            serveWaking(req, res, routed, true).catch(() =>
              answer(res, 502, 'the backend could not be woken'),
            );
            return;
          }
        } else if (!res.headersSent) {
          // No answer at all (refused, timed out): the member is out of its group until it answers.
          balancer.failed(group, target);
        }
        logger.warn({ err: error, route: target.id, backend: target.backend.url }, 'backend request failed');
        answer(res, failureStatus(error), 'the backend did not answer');
      });
  };

  /** The redirect filter answers itself: nothing reaches the backend. */
  const redirect = (
    req: IncomingMessage,
    routed: Routed,
  ): { status: number; location: string } | undefined => {
    const filter = routed.target.filters?.redirect;
    if (!filter) return undefined;
    return { status: filter.statusCode, location: redirectLocation(req, filter, routed.path, routed.query) };
  };

  return {
    handleRequest(req, res) {
      const started = performance.now();
      if (req.url?.startsWith(WAKE_PREFIX)) {
        serveWakeEndpoint(req, res);
        return;
      }
      const routed = route(req);
      res.once('close', () =>
        metrics.request(
          routed?.target?.id ?? NO_ROUTE,
          res.statusCode,
          (performance.now() - started) / 1_000,
        ),
      );
      if (!routed) {
        answer(res, 404, 'no route for this host and path');
        return;
      }
      if (routed.group.refused) {
        sendJson(res, 503, REFUSED_ANSWER);
        return;
      }
      if (!routed.target) {
        answer(res, 503, 'every backend of this route has weight 0');
        return;
      }
      const chosen = routed as Routed;
      const redirected = redirect(req, chosen);
      if (redirected) {
        req.resume();
        res.writeHead(redirected.status, { location: redirected.location, 'content-length': '0' });
        res.end();
        return;
      }
      if (chosen.target.wake) {
        serveWaking(req, res, chosen).catch((error: unknown) => {
          logger.error({ err: error, route: chosen.target.id }, 'wake failed');
          answer(res, 502, 'the backend could not be woken');
        });
        return;
      }
      forward(req, res, chosen);
    },

    handleUpgrade(req, socket, head) {
      const routed = route(req);
      const target = routed?.target;
      if (routed?.group.refused) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      if (!routed || !target) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const redirected = redirect(req, routed as Routed);
      if (redirected) {
        socket.end(
          `HTTP/1.1 ${redirected.status} Redirect\r\nlocation: ${redirected.location}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
        );
        return;
      }
      socket.on('error', () => socket.destroy());
      options.pools
        .get(target.backend.url)
        .upgrade({
          path: backendPath(routed as Routed),
          method: req.method ?? 'GET',
          headers: backendHeaders(req, target),
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
