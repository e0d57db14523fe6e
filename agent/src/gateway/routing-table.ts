import { checkHostname } from '@tunnelfleet/common';
import { z } from 'zod';

/** Most routes one table may hold: a host runs far fewer containers; a bigger push is a mistake. */
const MAX_ROUTES = 10_000;

const hostnameSchema = z.string().transform((text, ctx) => {
  const checked = checkHostname(text, { wildcard: true, singleLabel: true });
  if (!checked.ok) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} ${checked.reason}` });
    return z.NEVER;
  }
  return checked.value;
});

/** An origin only (`http://app:8080`): the request's own path is appended. */
const backendUrlSchema = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is not an absolute URL` });
    return z.NEVER;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'a backend must be http:// or https://' });
    return z.NEVER;
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'a backend is an origin only: no path, query or credentials' });
    return z.NEVER;
  }
  return url.origin;
});

const pathMatchSchema = z
  .object({
    /** `prefix` matches whole path segments (`/api` matches `/api` and `/api/x`, not `/apix`). */
    type: z.enum(['prefix', 'exact']),
    value: z.string().max(1024).startsWith('/', 'a path starts with "/"'),
  })
  .strict();

/** Docker container names: what the agent starts and stops for a waking route. */
const containerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a Docker container name');

/**
 * Wake on request: the container sleeps until a request comes, and is stopped again after
 * `idleTimeoutMs` without one (0: never).
 */
const wakeSchema = z
  .object({
    container: containerNameSchema,
    /** Started first, in this order. */
    dependsOn: z.array(containerNameSchema).max(20).default([]),
    startTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    idleTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .default(0),
    /** Probed with GET (2xx is ready); unset: a TCP connect to the backend. */
    healthPath: z.string().max(1024).startsWith('/').optional(),
    /** Where the loading page sends the browser once the container is ready: a path on this host. */
    redirectPath: z
      .string()
      .max(1024)
      .regex(/^\/(?!\/)[^\s"<>\\]*$/, 'a path on the same host ("/…", not "//host")')
      .default('/'),
  })
  .strict();

export const gatewayRouteSchema = z
  .object({
    /** Stable id from the agent (the master's route id): metrics and logs name the route by it. */
    id: z.string().min(1).max(200),
    /** Exact (`app.example.com`) or wildcard (`*.example.com`, any depth below it). */
    hostname: hostnameSchema,
    path: pathMatchSchema.default({ type: 'prefix', value: '/' }),
    backend: z.object({ url: backendUrlSchema }).strict(),
    wake: wakeSchema.optional(),
  })
  .strict();

export const routingTableSchema = z
  .object({
    /** Only increases: a push older than or equal to the table served is refused. */
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    routes: z.array(gatewayRouteSchema).max(MAX_ROUTES),
  })
  .strict();

export type RoutingTableInput = z.input<typeof routingTableSchema>;
export type RoutingTable = z.output<typeof routingTableSchema>;
export type GatewayRoute = z.output<typeof gatewayRouteSchema>;
export type WakeSettings = z.output<typeof wakeSchema>;

export interface CompiledTable {
  table: RoutingTable;
  /** The route serving `host` and `path`, by Gateway API precedence; undefined: no route. */
  lookup(host: string, path: string): GatewayRoute | undefined;
  /** Every backend origin the table names (pools of others may be closed). */
  backends: ReadonlySet<string>;
}

function pathMatches(route: GatewayRoute, path: string): boolean {
  const { type, value } = route.path;
  if (type === 'exact') return path === value;
  if (value === '/') return true;
  const prefix = value.endsWith('/') ? value.slice(0, -1) : value;
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Exact before prefix, then the longer path: Gateway API's order within one hostname. */
function byPathPrecedence(a: GatewayRoute, b: GatewayRoute): number {
  if (a.path.type !== b.path.type) return a.path.type === 'exact' ? -1 : 1;
  return b.path.value.length - a.path.value.length;
}

/** `Host` without its port, lower-cased; IPv6 literals keep their brackets. */
export function hostOf(header: string | undefined): string {
  if (!header) return '';
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).replace(/\.$/, '');
}

/**
 * Builds the lookup structures once per push, so that a request reads an immutable table: exact
 * hosts in a map, wildcards by their suffix, longest first (longest hostname wins, exact before
 * wildcard).
 */
export function compileTable(table: RoutingTable): CompiledTable {
  const exact = new Map<string, GatewayRoute[]>();
  const wildcard = new Map<string, GatewayRoute[]>();
  for (const route of table.routes) {
    const isWildcard = route.hostname.startsWith('*.');
    const map = isWildcard ? wildcard : exact;
    const key = isWildcard ? route.hostname.slice(1) : route.hostname;
    const list = map.get(key) ?? [];
    list.push(route);
    map.set(key, list);
  }
  for (const list of [...exact.values(), ...wildcard.values()]) list.sort(byPathPrecedence);
  const suffixes = [...wildcard.keys()].sort((a, b) => b.length - a.length);
  const first = (routes: GatewayRoute[] | undefined, path: string) =>
    routes?.find((route) => pathMatches(route, path));
  return {
    table,
    backends: new Set(table.routes.map((route) => route.backend.url)),
    lookup(host, path) {
      const found = first(exact.get(host), path);
      if (found) return found;
      for (const suffix of suffixes) {
        if (host.length > suffix.length && host.endsWith(suffix)) {
          const match = first(wildcard.get(suffix), path);
          if (match) return match;
        }
      }
      return undefined;
    },
  };
}
