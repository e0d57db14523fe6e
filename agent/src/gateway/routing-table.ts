import type { GatewayRoute, RoutingTable } from '@tunnelfleet/common';

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
