import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { BodyTooLargeError, readBody, sendJson } from '@tunnelfleet/common';
import { loadAccessRuleChecker } from './access-rules.js';
import {
  authenticate,
  createRateLimiter,
  DEFAULT_RATE_LIMIT,
  type RateLimitOptions,
} from './auth-and-rate-limit.js';
import { type CallRecord, createCallLog } from './call-log.js';
import { handleEdge } from './edge.js';
import { errorEnvelope, successEnvelope } from './envelope.js';
import { apiErrors, CloudflareApiError } from './errors.js';
import { createFaults, type FaultSettings } from './faults.js';
import { type ApiRequest, matchRoute, type Route } from './router.js';
import { accessRoutes } from './routes/access.js';
import { accountAndZoneRoutes } from './routes/accounts-zones.js';
import { dnsRecordRoutes } from './routes/dns-records.js';
import type { RouteDeps } from './routes/route-deps.js';
import { tunnelRoutes } from './routes/tunnels.js';
import { createSeeding } from './seeding.js';
import type { SpecValidator, SpecViolation } from './spec-validator.js';
import { type ApiToken, createState } from './state.js';

export interface CloudflareEmulatorOptions {
  /** Default 127.0.0.1; '0.0.0.0' so containers can reach the edge. */
  host?: string;
  port?: number;
  /** Embedded in tunnel tokens as "e"; default derived from the listen address. */
  edgeUrl?: string;
  rateLimit?: RateLimitOptions;
  /** Heartbeat the edge asks connectors for; a connection lives 3 × this long. Default 1. */
  heartbeatSeconds?: number;
  /** Record requests and replies that do not conform to the OpenAPI description. */
  validateAgainstSpec?: boolean;
  /** Source of randomness for fault injection (tests may make it deterministic). */
  random?: () => number;
}

const API_PREFIX = '/client/v4';
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The body as text; one over the limit is refused as Cloudflare refuses it. */
async function readRequestBody(req: IncomingMessage): Promise<string> {
  try {
    return await readBody(req, MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) throw apiErrors.invalidRequest('Request body too large');
    throw error;
  }
}

function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw apiErrors.invalidJson();
  }
}

export async function startCloudflareEmulator(options: CloudflareEmulatorOptions = {}) {
  const state = createState();
  const heartbeatSeconds = options.heartbeatSeconds ?? 1;
  const limiter = createRateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const faults = createFaults(options.random);
  const log = createCallLog();
  const violations: SpecViolation[] = [];
  let validator: SpecValidator | undefined;
  if (options.validateAgainstSpec) {
    const { loadSpecValidator } = await import('./spec-validator.js');
    validator = await loadSpecValidator();
  }
  let edgeUrl = options.edgeUrl;
  const deps: RouteDeps = {
    state,
    edgeUrl: () => edgeUrl,
    connectionIsLive: (lastSeenMs) => Date.now() - lastSeenMs <= 3 * heartbeatSeconds * 1000,
  };
  const routes: Route[] = [
    ...accountAndZoneRoutes(deps),
    ...dnsRecordRoutes(deps),
    ...tunnelRoutes(deps),
    ...accessRoutes(deps, loadAccessRuleChecker()),
  ];

  async function serveApi(req: IncomingMessage, res: ServerResponse, url: URL, call: CallRecord) {
    const method = req.method ?? 'GET';
    const path = url.pathname.slice(API_PREFIX.length) || '/';
    let body: unknown;
    let token: ApiToken | undefined;
    const reply = (status: number, envelope: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      if (validator && call.route) {
        violations.push(...validator.validateResponse(method, path, status, envelope, headers));
      }
      sendJson(res, status, envelope, headers);
    };
    try {
      body = parseJson(await readRequestBody(req));
      const latency = faults.latencyMs();
      if (latency > 0) await delay(latency);
      const match = matchRoute(routes, method, path);
      if (match.kind === 'no-route') throw apiErrors.noRoute();
      if (match.kind === 'method-not-allowed') throw apiErrors.methodNotAllowed();
      call.route = match.route.key;
      await faults.waitIfHeld(match.route.key);
      if (validator) violations.push(...validator.validateRequest(method, path, url.searchParams, body));
      token = authenticate(state, req.headers.authorization);
      call.token = token.name;
      const fault = faults.forRoute(match.route.key);
      if (fault.kind === 'rate-limit') {
        return reply(429, errorEnvelope(apiErrors.rateLimited().errors), { 'retry-after': '1' });
      }
      const decision = limiter.check(token.id);
      if (!decision.allowed) {
        return reply(429, errorEnvelope(apiErrors.rateLimited().errors), {
          'retry-after': String(decision.retryAfterSeconds),
        });
      }
      if (fault.kind === 'error') {
        return reply(fault.status, errorEnvelope(apiErrors.serviceUnavailable(fault.status).errors));
      }
      const request: ApiRequest = {
        method,
        path,
        params: match.params,
        query: url.searchParams,
        body,
        token,
      };
      const result = match.route.handler(request);
      reply(result.status ?? 200, successEnvelope(result.result, result.resultInfo));
    } catch (error) {
      if (error instanceof CloudflareApiError) return reply(error.status, errorEnvelope(error.errors));
      reply(500, errorEnvelope([{ code: 10002, message: `emulator error: ${(error as Error).message}` }]));
    }
  }

  async function serveEdge(req: IncomingMessage, res: ServerResponse, url: URL, call: CallRecord) {
    let body: unknown;
    try {
      body = JSON.parse(await readRequestBody(req));
    } catch {
      body = undefined;
    }
    const reply =
      req.method === 'POST'
        ? handleEdge(
            { state, heartbeatSeconds, now: Date.now },
            url.pathname,
            body,
            req.socket.remoteAddress ?? '',
          )
        : { status: 405, body: { error: 'method not allowed' } };
    call.status = reply.status;
    sendJson(res, reply.status, reply.body);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const call: CallRecord = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      route: null,
      status: 0,
      token: null,
      time: Date.now(),
    };
    const isApi = url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`);
    const isEdge = url.pathname.startsWith('/edge/v1/');
    if (isApi && faults.beforeRequest().kind === 'drop') {
      log.add(call);
      req.socket.destroy();
      return;
    }
    const work = isApi
      ? serveApi(req, res, url, call)
      : isEdge
        ? serveEdge(req, res, url, call)
        : Promise.resolve(sendJson(res, 404, { error: 'not found' })).then(() => {
            call.status = 404;
          });
    work.then(
      () => {
        if (isApi) log.add(call);
      },
      () => {
        if (!res.headersSent) sendJson(res, 500, errorEnvelope([{ code: 10002, message: 'emulator error' }]));
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = options.host ?? '127.0.0.1';
  const reachableHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const origin = `http://${reachableHost}:${address.port}`;
  edgeUrl ??= origin;
  const seeding = createSeeding(state, deps);

  return {
    baseUrl: `${origin}${API_PREFIX}`,
    edgeUrl,
    port: address.port,
    ...seeding,
    faults: {
      set: (settings: FaultSettings) => faults.set(settings),
      clear: () => faults.clear(),
      hold: (route: string) => faults.hold(route),
      release: () => faults.release(),
      held: () => faults.held(),
    },
    /** Every API call so far (edge calls are not logged). */
    calls: () => log.all(),
    clearCalls: () => log.clear(),
    writes: () => log.writes(),
    countsByRoute: () => log.countsByRoute(),
    resetRateLimits: () => limiter.reset(),
    specViolations: (): SpecViolation[] => [...violations],
    clearSpecViolations: () => {
      violations.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

export type CloudflareEmulator = Awaited<ReturnType<typeof startCloudflareEmulator>>;
