import { ROUTE_STATUSES, type RouteGroupBy, type RouteSort, type RouteStatus } from '@tunnelfleet/common';
import type { SqliteDatabase } from './database.js';
import { isoNow, parseJsonColumn, statement } from './statements.js';

/** A container that served a route before the one serving it now (a recreate or a scale-down). */
export interface ReplacedContainer {
  containerId: string;
  containerName: string;
  replacedAt: string;
}

/** One row of `routes`; the routes engine (master/src/routes) decides what to write. */
export interface RouteRecord {
  id: number;
  agentId: string;
  /** Who the route belongs to on its agent: a compose service or a container name (route-identity.ts). */
  identity: string;
  /** The container that serves the route now. */
  containerId: string;
  containerName: string;
  /** Running containers of the identity that carry the route (scaled replicas); one of them serves. */
  replicas: number;
  /** Earlier servers, newest first. */
  replaced: ReplacedContainer[];
  routeKey: string;
  hostname: string | null;
  path: string;
  service: string | null;
  zone: string | null;
  tunnelName: string | null;
  spec: unknown;
  status: RouteStatus;
  statusMessage: string | null;
  problems: unknown[];
  deleteAfter: string | null;
  claimedAt: string;
  createdAt: string;
  updatedAt: string;
}

interface RouteRow {
  id: number;
  agent_id: string;
  identity: string;
  container_id: string;
  container_name: string;
  replicas: number;
  replaced: string;
  route_key: string;
  hostname: string | null;
  path: string;
  service: string | null;
  zone: string | null;
  tunnel_name: string | null;
  spec: string;
  status: RouteStatus;
  status_message: string | null;
  problems: string;
  delete_after: string | null;
  claimed_at: string;
  created_at: string;
  updated_at: string;
}

function toRecord(row: RouteRow): RouteRecord {
  return {
    id: row.id,
    agentId: row.agent_id,
    identity: row.identity,
    containerId: row.container_id,
    containerName: row.container_name,
    replicas: row.replicas,
    replaced: parseJsonColumn(row.replaced, []),
    routeKey: row.route_key,
    hostname: row.hostname,
    path: row.path,
    service: row.service,
    zone: row.zone,
    tunnelName: row.tunnel_name,
    spec: parseJsonColumn(row.spec, {}),
    status: row.status,
    statusMessage: row.status_message,
    problems: parseJsonColumn(row.problems, []),
    deleteAfter: row.delete_after,
    claimedAt: row.claimed_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A route as the routes engine writes it: the id and timestamps are the store's. */
export type RouteWrite = Omit<RouteRecord, 'id' | 'createdAt' | 'updatedAt' | 'problems' | 'replaced'> & {
  problems: readonly unknown[];
  replaced: readonly ReplacedContainer[];
};

/** What a write sets on a new row and an existing one alike: each column with its value. */
const WRITTEN: readonly (readonly [column: string, value: (route: RouteWrite) => unknown])[] = [
  ['identity', (route) => route.identity],
  ['container_id', (route) => route.containerId],
  ['container_name', (route) => route.containerName],
  ['replicas', (route) => route.replicas],
  ['replaced', (route) => JSON.stringify(route.replaced)],
  ['hostname', (route) => route.hostname],
  ['path', (route) => route.path],
  ['service', (route) => route.service],
  ['zone', (route) => route.zone],
  ['tunnel_name', (route) => route.tunnelName],
  ['spec', (route) => JSON.stringify(route.spec)],
  ['status', (route) => route.status],
  ['status_message', (route) => route.statusMessage],
  ['problems', (route) => JSON.stringify(route.problems)],
  ['delete_after', (route) => route.deleteAfter],
  ['claimed_at', (route) => route.claimedAt],
];
const WRITTEN_COLUMNS = WRITTEN.map(([column]) => column);
const writtenValues = (route: RouteWrite) => WRITTEN.map(([, value]) => value(route));

const INSERT_ROUTE = `INSERT INTO routes (agent_id, route_key, ${WRITTEN_COLUMNS.join(', ')},
   created_at, updated_at) VALUES (?, ?, ${WRITTEN_COLUMNS.map(() => '?').join(', ')}, ?, ?)`;
const UPDATE_ROUTE = `UPDATE routes SET ${WRITTEN_COLUMNS.map((column) => `${column} = ?`).join(', ')},
   updated_at = ? WHERE id = ?`;

export function insertRoute(db: SqliteDatabase, route: RouteWrite, at: string): number {
  const result = statement(db, INSERT_ROUTE).run(
    route.agentId,
    route.routeKey,
    ...writtenValues(route),
    at,
    at,
  );
  return Number(result.lastInsertRowid);
}

export function updateRoute(db: SqliteDatabase, id: number, route: RouteWrite, at: string): void {
  statement(db, UPDATE_ROUTE).run(...writtenValues(route), at, id);
}

/** Moves a route's claim time: the earliest claimant of a hostname holds it (`routes/claims.ts`). */
export function setRouteClaimedAt(db: SqliteDatabase, id: number, claimedAt: string): void {
  statement(db, 'UPDATE routes SET claimed_at = ? WHERE id = ?').run(claimedAt, id);
}

/** Sets status and message; false when both were already so (nothing written). */
export function setRouteStatus(
  db: SqliteDatabase,
  id: number,
  status: RouteStatus,
  message: string | null,
  at: string,
): boolean {
  return (
    statement(
      db,
      `UPDATE routes SET status = ?, status_message = ?, updated_at = ?
       WHERE id = ? AND (status != ? OR status_message IS NOT ?)`,
    ).run(status, message, at, id, status, message).changes === 1
  );
}

/**
 * Status from a Cloudflare sync: applied only to a route that still holds its hostname and is
 * still wanted, as the route may have stopped or lost its claim while the sync ran.
 */
export function setSyncedRouteStatus(
  db: SqliteDatabase,
  id: number,
  status: 'active' | 'error' | 'conflict',
  message: string | null,
  at: string,
): void {
  statement(
    db,
    `UPDATE routes SET status = ?, status_message = ?, updated_at = ?
     WHERE id = ? AND status IN ('active', 'error', 'conflict') AND (status != ? OR status_message IS NOT ?)
       AND NOT EXISTS (SELECT 1 FROM conflicts
                       WHERE route_id = routes.id AND kind = 'hostname_claimed' AND resolved_at IS NULL)`,
  ).run(status, message, at, id, status, message);
}

/**
 * Agents with a route that a later look may settle without a new report: `error` or `invalid`
 * (a hostname outside the managed zones, which may be added), or a hostname whose zone could not
 * be looked up (a later sync may have called the route `active` meanwhile: its zone stays unknown).
 */
export function listAgentIdsWithUnsettledRoutes(db: SqliteDatabase): string[] {
  return (
    statement(
      db,
      `SELECT agent_id FROM routes WHERE status IN ('error', 'invalid')
       UNION SELECT agent_id FROM routes WHERE zone IS NULL AND hostname IS NOT NULL AND status != 'revoked'`,
    ).all() as { agent_id: string }[]
  ).map((row) => row.agent_id);
}

export function deleteRoute(db: SqliteDatabase, id: number): void {
  statement(db, 'DELETE FROM routes WHERE id = ?').run(id);
}

export interface RouteFilter {
  status?: RouteStatus;
  agentId?: string;
  hostname?: string;
  zone?: string;
}

/**
 * The WHERE clause of the filters given, values as bound parameters: only fixed column names go into
 * the SQL text, and only the filters given (`(? IS NULL OR col = ?)` would keep SQLite from using
 * the indexes, and every report reads an agent's routes: a full scan per report at fleet scale).
 */
function routeWhere(filter: RouteFilter & { zone?: string; q?: string }) {
  const clauses: string[] = [];
  const params: string[] = [];
  for (const [column, value] of [
    ['status', filter.status],
    ['agent_id', filter.agentId],
    ['hostname', filter.hostname],
    ['zone', filter.zone],
  ] as const) {
    if (value === undefined) continue;
    clauses.push(`${column} = ?`);
    params.push(value);
  }
  if (filter.q !== undefined) {
    const pattern = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    clauses.push("(hostname LIKE ? ESCAPE '\\' OR container_name LIKE ? ESCAPE '\\')");
    params.push(pattern, pattern);
  }
  return { where: clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '', params };
}

export function findRoute(db: SqliteDatabase, id: number): RouteRecord | undefined {
  const row = statement(db, 'SELECT * FROM routes WHERE id = ?').get(id) as RouteRow | undefined;
  return row ? toRecord(row) : undefined;
}

export function listRoutes(db: SqliteDatabase, filter: RouteFilter = {}): RouteRecord[] {
  const { where, params } = routeWhere(filter);
  const rows = statement(db, `SELECT * FROM routes ${where} ORDER BY hostname, path, id`).all(
    ...params,
  ) as RouteRow[];
  return rows.map(toRecord);
}

/**
 * Every zone a route names, in order: where something may be carried (the caller decides what).
 * Read by skipping from one zone to the next in `routes_by_zone`, a seek per zone: a DISTINCT read
 * every route, 61 ms at 200,000 routes, on the event loop the agents' requests share.
 */
export function listRouteZones(db: SqliteDatabase): string[] {
  const rows = statement(
    db,
    `WITH RECURSIVE zones(zone) AS (
       SELECT MIN(zone) FROM routes
       UNION ALL
       SELECT (SELECT MIN(zone) FROM routes WHERE zone > zones.zone) FROM zones WHERE zones.zone IS NOT NULL
     )
     SELECT zone FROM zones WHERE zone IS NOT NULL`,
  ).all() as { zone: string }[];
  return rows.map((row) => row.zone);
}

/**
 * One zone's routes, or those whose spec asks for Access, read one row at a time: a caller that
 * looks for one match stops without reading (and parsing) the rest. Consume it synchronously.
 */
export function* iterateRoutes(
  db: SqliteDatabase,
  filter: { zone: string } | { asksAccess: true },
): Generator<RouteRecord> {
  const rows =
    'zone' in filter
      ? statement(db, 'SELECT * FROM routes WHERE zone = ?').iterate(filter.zone)
      : // The very expression of the partial index `routes_asking_access` (migration 17), so that a
        // fleet without Access reads no row; a spec that is not JSON (a hand-edited row) asks none.
        statement(
          db,
          "SELECT * FROM routes WHERE CASE WHEN json_valid(spec) THEN json_extract(spec, '$.access') END IS NOT NULL",
        ).iterate();
  for (const row of rows) yield toRecord(row as RouteRow);
}

/** Columns a page may be sorted by: fixed names only ever go into the SQL text. */
const SORT_COLUMNS: Record<RouteSort, string> = {
  hostname: 'hostname, path',
  status: 'status',
  agent: 'agent_id',
  zone: 'zone',
  updated: 'updated_at',
};

/**
 * The value each route is grouped by: fixed SQL only. A route's policy is the JSON list of the
 * named policies its labels attach, else `#labels` (Access from its own labels), else `#none`; a
 * spec that is not JSON (a hand-edited row) counts as none rather than failing the page.
 */
const GROUP_EXPRESSIONS: Record<RouteGroupBy, string> = {
  agent: 'agent_id',
  status: 'status',
  zone: 'zone',
  policy: `CASE
    WHEN NOT json_valid(spec) THEN '#none'
    WHEN json_array_length(spec, '$.access.namedPolicies') > 0 THEN json_extract(spec, '$.access.namedPolicies')
    WHEN json_extract(spec, '$.access') IS NOT NULL THEN '#labels'
    ELSE '#none' END`,
};

export interface RoutePageQuery extends RouteFilter {
  zone?: string;
  /** Part of the hostname or the container name. */
  q?: string;
  sort: RouteSort;
  order: 'asc' | 'desc';
  /** Rows ordered by this group first (ascending), then by `sort`. */
  group?: RouteGroupBy;
  limit?: number;
  offset: number;
}

/** A group of a grouped page: its rows are `offset` to `offset + count - 1` of the whole ordering. */
export interface RouteGroupCount {
  key: string | null;
  count: number;
  offset: number;
}

/**
 * One page of routes matching the filters, and how many match in all: the dashboard's long table.
 * Grouped, it also counts every group (one GROUP BY), so the table can place each group's header
 * without reading the rows of other pages.
 */
export function pageRoutes(
  db: SqliteDatabase,
  query: RoutePageQuery,
): { routes: RouteRecord[]; total: number; groups?: RouteGroupCount[] } {
  const { where, params } = routeWhere(query);
  const direction = query.order === 'desc' ? 'DESC' : 'ASC';
  const group = query.group === undefined ? undefined : GROUP_EXPRESSIONS[query.group];
  const order = [
    ...(group ? [`${group} ASC`] : []),
    ...SORT_COLUMNS[query.sort].split(', ').map((column) => `${column} ${direction}`),
    `id ${direction}`,
  ].join(', ');
  const rows = statement(db, `SELECT * FROM routes ${where} ORDER BY ${order} LIMIT ? OFFSET ?`).all(
    ...params,
    query.limit ?? -1,
    query.offset,
  ) as RouteRow[];
  if (!group) {
    const { n } = statement(db, `SELECT COUNT(*) AS n FROM routes ${where}`).get(...params) as { n: number };
    return { routes: rows.map(toRecord), total: n };
  }
  const counted = statement(
    db,
    `SELECT ${group} AS key, COUNT(*) AS n FROM routes ${where} GROUP BY 1 ORDER BY 1 ASC`,
  ).all(...params) as { key: string | null; n: number }[];
  let offset = 0;
  const groups = counted.map(({ key, n }) => {
    const entry = { key, count: n, offset };
    offset += n;
    return entry;
  });
  return { routes: rows.map(toRecord), total: offset, groups };
}

/** Routes per agent, revoked ones left out: what revoking each agent would withdraw. */
export function countRoutesByAgent(db: SqliteDatabase): Map<string, number> {
  const rows = statement(
    db,
    "SELECT agent_id, COUNT(*) AS n FROM routes WHERE status != 'revoked' GROUP BY agent_id",
  ).all() as { agent_id: string; n: number }[];
  return new Map(rows.map((row) => [row.agent_id, row.n]));
}

export function countRoutesByStatus(db: SqliteDatabase): Record<RouteStatus, number> {
  const counts = Object.fromEntries(ROUTE_STATUSES.map((s) => [s, 0])) as Record<RouteStatus, number>;
  const rows = statement(db, 'SELECT status, COUNT(*) AS n FROM routes GROUP BY status').all() as {
    status: RouteStatus;
    n: number;
  }[];
  for (const row of rows) counts[row.status] = row.n;
  return counts;
}

/**
 * Marks every route of a revoked agent `revoked` (the reconciler then removes what we own for them).
 * Returns the hostnames affected, for the audit log.
 */
export function markAgentRoutesRevoked(db: SqliteDatabase, agentId: string, message: string): string[] {
  return db.transaction(() => {
    const rows = statement(
      db,
      "SELECT DISTINCT hostname FROM routes WHERE agent_id = ? AND status != 'revoked'",
    ).all(agentId) as { hostname: string | null }[];
    statement(
      db,
      "UPDATE routes SET status = 'revoked', status_message = ?, updated_at = ? WHERE agent_id = ? AND status != 'revoked'",
    ).run(message, isoNow(), agentId);
    return rows.flatMap((row) => (row.hostname ? [row.hostname] : []));
  })();
}

/**
 * The hostname (and agent) of each of these routes that still exists: one indexed look-up per id,
 * whatever the table holds. With `agentId`, only that agent's routes.
 */
export function routeHostnames(
  db: SqliteDatabase,
  ids: readonly number[],
  agentId?: string,
): Map<number, { agentId: string; hostname: string | null }> {
  const rows = statement(
    db,
    `SELECT id, agent_id, hostname FROM routes
      WHERE id IN (SELECT value FROM json_each(?)) AND (? IS NULL OR agent_id = ?)`,
  ).all(JSON.stringify(ids), agentId ?? null, agentId ?? null) as {
    id: number;
    agent_id: string;
    hostname: string | null;
  }[];
  return new Map(rows.map((row) => [row.id, { agentId: row.agent_id, hostname: row.hostname }]));
}
