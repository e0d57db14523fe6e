import type { IncomingHttpHeaders } from 'node:http';
import {
  type GatewayPathMatch,
  type GatewayRoute,
  type RouteRefusal,
  type RoutingTable,
  toJavaScriptRegex,
  ValidationError,
} from '@tunnelfleet/common';
import { compileLinearRegex } from './linear-regex.js';
import { clipReason, type JudgedTable, type RefusedRoute, type RouteShadow } from './route-judge.js';

/** What a route matches a request on. */
export interface RequestView {
  /** `Host` as `hostOf` gives it. */
  host: string;
  /** The path without its query. */
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  /** The query string without its `?` (empty when none). */
  query: string;
}

/**
 * The routes with the same hostname, path and match: one request goes to one of them (their
 * order is by id, so the choice is the same whatever order the table listed them in).
 */
export interface RouteGroup {
  key: string;
  members: GatewayRoute[];
  /**
   * Set when the group stands for a route the gateway refused (then `members` is empty): a
   * request it matches is answered 503, never sent to another route's backend (fail closed).
   */
  refused?: RouteRefusal;
  /** Where the path match matched in `path` (the prefix, the whole path, the regex's match). */
  matchSpan(path: string): [number, number];
}

export interface CompiledTable {
  /** The routes served: the pushed table without those refused. */
  table: RoutingTable;
  /** The routes left out, with why: the answer to the push says so. */
  refused: RouteRefusal[];
  /** The group serving the request, by Gateway API precedence; undefined: no route. */
  lookup(request: RequestView): RouteGroup | undefined;
  /** Every backend origin the table names, mirrors included (pools of others may be closed). */
  backends: ReadonlySet<string>;
  /** The key of every group (the state kept per group of others may be dropped). */
  groups: ReadonlySet<string>;
}

interface CompiledGroup extends RouteGroup {
  matches(request: RequestView, query: () => URLSearchParams): boolean;
  /** Sort keys, Gateway API's order within one hostname. */
  pathKind: number;
  pathLength: number;
  hasMethod: boolean;
  headerCount: number;
  queryCount: number;
  /** Breaks ties: the first member's id, or the refused route's. */
  id: string;
  hostname: string;
}

const PATH_KINDS = { exact: 0, prefix: 1, regex: 2 } as const;

/** A prefix without its trailing `/`: `/api/` and `/api` both match `/api` and `/api/x`. */
const bare = (prefix: string) => (prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);

function regexOf(source: string, what: string): RegExp {
  const converted = toJavaScriptRegex(source);
  // The schema checked it already; this only narrows the type.
  if (!converted.ok) throw new Error(`${what}: ${converted.reason}`);
  return compileLinearRegex(converted.value, what);
}

type Span = [number, number];

function pathMatcher(path: GatewayPathMatch, what: string): (path: string) => Span | undefined {
  if (path.type === 'exact')
    return (candidate) => (candidate === path.value ? [0, candidate.length] : undefined);
  if (path.type === 'regex') {
    const regex = regexOf(path.value, what);
    return (candidate) => {
      const found = regex.exec(candidate);
      return found ? [found.index, found.index + found[0].length] : undefined;
    };
  }
  const prefix = bare(path.value);
  const span: Span = [0, prefix.length];
  if (prefix === '') return () => span;
  return (candidate) => (candidate === prefix || candidate.startsWith(`${prefix}/`) ? span : undefined);
}

const valueTest = (match: { type: 'exact' | 'regex'; value: string }, what: string) => {
  if (match.type === 'exact') return (value: string) => value === match.value;
  const regex = regexOf(match.value, what);
  return (value: string) => regex.test(value);
};

/** Match conditions in a canonical order: routes that only list them differently are one group. */
function groupKey(route: RouteShadow): string {
  const byName = <T extends { name: string; type: string; value: string }>(list: T[] = []) =>
    [...list].sort((a, b) => a.name.localeCompare(b.name) || a.value.localeCompare(b.value));
  return JSON.stringify([
    route.hostname,
    route.path.type,
    route.path.type === 'prefix' ? bare(route.path.value) : route.path.value,
    route.match?.method ?? '',
    byName(route.match?.headers).map((m) => [m.name, m.type, m.value]),
    byName(route.match?.query).map((m) => [m.name, m.type, m.value]),
  ]);
}

/**
 * The matcher of routes that match as `first` does. Regexes are compiled here; one the linear
 * engine refuses throws a `ValidationError` naming the field (`path.value`, `match.headers[0].value`).
 */
function compileGroup(
  key: string,
  first: RouteShadow,
  members: GatewayRoute[],
  id: string,
  refused?: RouteRefusal,
): CompiledGroup {
  const matchPath = pathMatcher(first.path, 'path.value');
  const method = first.match?.method;
  const headers = (first.match?.headers ?? []).map((match, i) => ({
    name: match.name,
    test: valueTest(match, `match.headers[${i}].value`),
  }));
  const query = (first.match?.query ?? []).map((match, i) => ({
    name: match.name,
    test: valueTest(match, `match.query[${i}].value`),
  }));
  return {
    key,
    members,
    ...(refused ? { refused } : {}),
    id,
    hostname: first.hostname,
    matchSpan: (path) => matchPath(path) ?? [0, 0],
    pathKind: PATH_KINDS[first.path.type],
    pathLength: first.path.type === 'prefix' ? bare(first.path.value).length : first.path.value.length,
    hasMethod: method !== undefined,
    headerCount: headers.length,
    queryCount: query.length,
    matches(request, params) {
      if (method !== undefined && request.method !== method) return false;
      if (matchPath(request.path) === undefined) return false;
      for (const header of headers) {
        const value = request.headers[header.name];
        if (value === undefined) return false;
        if (!header.test(Array.isArray(value) ? value.join(',') : value)) return false;
      }
      if (query.length > 0) {
        const values = params();
        for (const parameter of query) {
          const value = values.get(parameter.name);
          if (value === null || !parameter.test(value)) return false;
        }
      }
      return true;
    },
  };
}

/** Why a group's regex cannot run: its problems, as the refusal's message. */
function regexProblem(error: unknown): string {
  if (!(error instanceof ValidationError)) throw error;
  return clipReason(error.issues.map((issue) => `${issue.path}: ${issue.reason}`).join('; '));
}

/**
 * The group answering for a refused route: its shadow as far as it compiles, widened step by step
 * (without its match, then without its path) when a part of it does not.
 */
function compileShadow(refused: RefusedRoute & { shadow: RouteShadow }): CompiledGroup {
  const { hostname, path, match } = refused.shadow;
  const refusal: RouteRefusal = { id: refused.id, code: refused.code, message: refused.message };
  const widened: RouteShadow[] = [
    { hostname, path, ...(match ? { match } : {}) },
    { hostname, path },
    { hostname, path: { type: 'prefix', value: '/' } },
  ];
  for (const shadow of widened.slice(0, -1)) {
    try {
      return compileGroup(groupKey(shadow), shadow, [], refused.id, refusal);
    } catch (error) {
      regexProblem(error);
    }
  }
  const last = widened.at(-1)!;
  return compileGroup(groupKey(last), last, [], refused.id, refusal);
}

/**
 * Gateway API's precedence within one hostname: an exact path first, then the longest path; then
 * a method match, more header matches, more query matches; ties by route id. The Gateway API
 * leaves regexes to the implementation: here a regex ranks by its length among the prefixes (a
 * prefix first at equal length), as Contour does. Ranking every regex after every prefix would
 * make a regex route unreachable beside any route without a path (the prefix `/`).
 */
function byPrecedence(a: CompiledGroup, b: CompiledGroup): number {
  const exact = Number(b.pathKind === PATH_KINDS.exact) - Number(a.pathKind === PATH_KINDS.exact);
  return (
    exact ||
    b.pathLength - a.pathLength ||
    a.pathKind - b.pathKind ||
    Number(b.hasMethod) - Number(a.hasMethod) ||
    b.headerCount - a.headerCount ||
    b.queryCount - a.queryCount ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** `Host` without its port, lower-cased; IPv6 literals keep their brackets. */
export function hostOf(header: string | undefined): string {
  if (!header) return '';
  const host = header.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).replace(/\.$/, '');
}

/** Whether a route's hostname (exact, or `*.suffix` at any depth below it) serves `host`. */
export function hostnameServes(hostname: string, host: string): boolean {
  if (!hostname.startsWith('*.')) return hostname === host;
  const suffix = hostname.slice(1);
  return host.length > suffix.length && host.endsWith(suffix);
}

/**
 * Builds the lookup structures once per push, so that a request reads an immutable table: exact
 * hosts in a map, wildcards by their suffix, longest first (longest hostname wins, exact before
 * wildcard); within a host, groups in precedence order, the first that matches wins. Regexes are
 * compiled here, once: a group whose regex the linear engine refuses is refused, its members with
 * it. Each refused route with a readable hostname answers 503 where it would have matched, unless
 * a served group matches exactly as it would (a refused member of a group: the others serve it).
 */
export function compileTable(judged: JudgedTable): CompiledTable {
  const grouped = new Map<string, GatewayRoute[]>();
  for (const route of judged.table.routes) {
    const key = groupKey(route);
    grouped.set(key, [...(grouped.get(key) ?? []), route]);
  }
  const refused: RefusedRoute[] = [...judged.refused];
  const compiled: CompiledGroup[] = [];
  for (const [key, members] of grouped) {
    members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const [first] = members as [GatewayRoute];
    try {
      compiled.push(compileGroup(key, first, members, first.id));
    } catch (error) {
      const message = regexProblem(error);
      grouped.delete(key);
      for (const member of members)
        refused.push({ id: member.id, code: 'invalid_regex', message, shadow: member });
    }
  }
  const keys = new Set(compiled.map((group) => group.key));
  for (const refusal of refused) {
    if (!refusal.shadow) continue;
    const shadow = compileShadow({ ...refusal, shadow: refusal.shadow });
    if (keys.has(shadow.key)) continue;
    keys.add(shadow.key);
    compiled.push(shadow);
  }
  const exact = new Map<string, CompiledGroup[]>();
  const wildcard = new Map<string, CompiledGroup[]>();
  for (const group of compiled) {
    const { hostname } = group;
    const isWildcard = hostname.startsWith('*.');
    const map = isWildcard ? wildcard : exact;
    const hostKey = isWildcard ? hostname.slice(1) : hostname;
    const list = map.get(hostKey) ?? [];
    list.push(group);
    map.set(hostKey, list);
  }
  for (const list of [...exact.values(), ...wildcard.values()]) list.sort(byPrecedence);
  const suffixes = [...wildcard.keys()].sort((a, b) => b.length - a.length);
  const served = new Set([...grouped.values()].flat());
  const table: RoutingTable = {
    version: judged.table.version,
    // In the pushed order (the wake endpoints and GET /config read it).
    routes: judged.table.routes.filter((route) => served.has(route)),
  };
  const backends = new Set<string>();
  for (const route of table.routes) {
    backends.add(route.backend.url);
    if (route.filters?.mirror) backends.add(route.filters.mirror.url);
  }
  return {
    table,
    refused: refused.map(({ id, code, message }) => ({ id, code, message })),
    backends,
    groups: new Set(grouped.keys()),
    lookup(request) {
      // Parsed at most once, and only when a candidate matches on the query.
      let params: URLSearchParams | undefined;
      const query = () => {
        params ??= new URLSearchParams(request.query);
        return params;
      };
      const first = (groups: CompiledGroup[] | undefined) =>
        groups?.find((group) => group.matches(request, query));
      const found = first(exact.get(request.host));
      if (found) return found;
      for (const suffix of suffixes) {
        if (request.host.length > suffix.length && request.host.endsWith(suffix)) {
          const match = first(wildcard.get(suffix));
          if (match) return match;
        }
      }
      return undefined;
    },
  };
}
