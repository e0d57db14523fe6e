import type { ResultInfo } from './envelope.js';
import type { ApiToken } from './state.js';

export interface ApiRequest {
  method: string;
  /** Path below `/client/v4`, e.g. `/zones/abc/dns_records`. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  token: ApiToken;
}

interface ApiReply {
  status?: number;
  result: unknown;
  resultInfo?: ResultInfo;
}

type Handler = (request: ApiRequest) => ApiReply;

export interface Route {
  method: string;
  pattern: string;
  /** Stable name for logs, counters and faults: `PUT /accounts/:id/cfd_tunnel/:id/configurations`. */
  key: string;
  handler: Handler;
}

export function route(method: string, pattern: string, handler: Handler): Route {
  return { method, pattern, key: routeKey(method, pattern), handler };
}

export function routeKey(method: string, pattern: string): string {
  return `${method} ${pattern.replace(/:[a-z_]+/g, ':id')}`;
}

type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method-not-allowed' }
  | { kind: 'no-route' };

function matchPattern(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const segment = want[i]!;
    const actual = got[i]!;
    if (segment.startsWith(':')) {
      if (actual === '') return null;
      params[segment.slice(1)] = decodeURIComponent(actual);
    } else if (segment !== actual) {
      return null;
    }
  }
  return params;
}

export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  let pathMatched = false;
  for (const candidate of routes) {
    const params = matchPattern(candidate.pattern, path);
    if (!params) continue;
    if (candidate.method === method) return { kind: 'found', route: candidate, params };
    pathMatched = true;
  }
  return pathMatched ? { kind: 'method-not-allowed' } : { kind: 'no-route' };
}
