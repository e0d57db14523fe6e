import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  AuthenticationError,
  type ConfigPushAnswer,
  type Logger,
  NotFoundError,
  readBody,
  sendJson,
  TunnelfleetError,
  toHttpError,
  ValidationError,
} from '@tunnelfleet/common';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { TableStore } from './table-store.js';
import type { WakeCoordinator } from './wake-coordinator.js';

/** Longest wait of the agent's long-poll for start requests. */
const MAX_WAIT_MS = 30_000;
/** Log lines of one container the loading page may show. */
const MAX_LOG_LINES = 200;
const LOGS_PATH = /^\/containers\/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})\/logs$/;
const SLEEPING_PATH = /^\/containers\/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})\/sleeping$/;

/** A routing table of 10,000 routes is well under this; anything bigger is refused unread. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

class InvalidJsonError extends TunnelfleetError {
  constructor() {
    super('invalid_json', 'the body is not JSON', { httpStatus: 400 });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req, MAX_BODY_BYTES);
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidJsonError();
  }
}

/** Nothing the API answers may be cached: tables, tokens' checks and wake state all change. */
const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  sendJson(res, status, body, { 'cache-control': 'no-store', ...headers });

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * The gateway's local API, for the agent alone: `PUT /config` and `GET /config` need the bearer
 * token; `/healthz` (the process answers) and `/readyz` (a table is served) do not, so a plain
 * HTTP probe can use them.
 */
export function createApiHandler(options: {
  tables: TableStore;
  wake: WakeCoordinator;
  metrics: GatewayMetrics;
  apiToken: string;
  logger: Logger;
}): RequestListener {
  const expected = digest(options.apiToken);
  const authorized = (req: IncomingMessage) => {
    const header = req.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    // Equal-length digests: the comparison takes the same time whatever was presented.
    return presented.length > 0 && timingSafeEqual(digest(presented), expected);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' && req.method === 'GET') return send(res, 200, { healthy: true });
    if (path === '/readyz' && req.method === 'GET') {
      const version = options.tables.current()?.table.version;
      return send(res, version === undefined ? 503 : 200, {
        ready: version !== undefined,
        version: version ?? null,
      });
    }
    const logs = LOGS_PATH.exec(path ?? '');
    const slept = SLEEPING_PATH.exec(path ?? '');
    const known =
      ((path === '/config' || logs) && (req.method === 'GET' || req.method === 'PUT')) ||
      (slept && req.method === 'PUT') ||
      ((path === '/wake-requests' || path === '/metrics') && req.method === 'GET');
    if (!known)
      throw new NotFoundError(
        'only GET|PUT /config, GET /wake-requests, PUT /containers/<name>/logs, PUT /containers/<name>/sleeping, GET /metrics, GET /healthz and GET /readyz',
      );
    if (!authorized(req)) throw new AuthenticationError();
    if (path === '/metrics') {
      const { contentType, text } = await options.metrics.render();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      res.end(text);
      return;
    }
    if (path === '/wake-requests') {
      const query = new URL(req.url ?? '/', 'http://gateway').searchParams;
      const after = Math.max(0, Number(query.get('after')) || 0);
      const waitMs = Math.min(MAX_WAIT_MS, Math.max(0, Number(query.get('wait_ms')) || 0));
      return send(res, 200, await options.wake.takeRequests(after, waitMs));
    }
    if (slept) return send(res, 200, { routes: options.wake.slept(slept[1]!) });
    if (logs) {
      const body = await readJson(req);
      const { lines, failure } = body as { lines?: unknown; failure?: unknown };
      if (!Array.isArray(lines) || !lines.every((line) => typeof line === 'string'))
        throw new ValidationError('logs body', [{ path: 'lines', reason: 'must be an array of strings' }]);
      if (failure !== undefined && typeof failure !== 'string')
        throw new ValidationError('logs body', [{ path: 'failure', reason: 'must be a string' }]);
      options.wake.setLogs(
        logs[1]!,
        lines.slice(-MAX_LOG_LINES).map((line) => line.slice(0, 2_000)),
        failure?.slice(0, 2_000),
      );
      return send(res, 200, { lines: Math.min(lines.length, MAX_LOG_LINES) });
    }
    if (req.method === 'GET') {
      const current = options.tables.current();
      if (!current) throw new NotFoundError('no routing table yet');
      return send(res, 200, current.table);
    }
    // 200 when the table is served, even with routes refused: the answer names them.
    const { table, refused } = await options.tables.replace(await readJson(req));
    return send(res, 200, {
      version: table.version,
      routes: table.routes.length,
      refused,
    } satisfies ConfigPushAnswer);
  };

  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { status, headers, body } = toHttpError(error);
      if (status >= 500) options.logger.error({ err: error }, 'gateway API request failed');
      // An unread body would be taken for the next request on a kept-alive connection.
      if (!req.complete) res.setHeader('connection', 'close');
      send(res, status, body, headers);
    });
  };
}
