import type { LabelProblem } from '@tunnelfleet/common';
import type { ConflictRecord } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes, type RouteRecord, type RouteStatus } from '../store/routes.js';
import { getSetting, setSetting } from '../store/settings.js';
import { parseJsonColumn, statement } from '../store/statements.js';
import type { RouteSpec } from './route-spec.js';

/**
 * The write side of `routes`, `conflicts`, `owned_objects` (the read side for the API lives in
 * master/src/store). Plain functions over the db: callers group them in transactions.
 */

export interface RouteWrite {
  agentId: string;
  containerId: string;
  containerName: string;
  routeKey: string;
  hostname: string | null;
  path: string;
  service: string | null;
  zone: string | null;
  tunnelName: string | null;
  spec: RouteSpec;
  status: RouteStatus;
  statusMessage: string | null;
  problems: readonly LabelProblem[];
  deleteAfter: string | null;
  claimedAt: string;
}

export function insertRoute(db: SqliteDatabase, route: RouteWrite, at: string): number {
  const result = statement(
    db,
    `INSERT INTO routes (agent_id, container_id, container_name, route_key, hostname, path, service, zone,
       tunnel_name, spec, status, status_message, problems, delete_after, claimed_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    route.agentId,
    route.containerId,
    route.containerName,
    route.routeKey,
    route.hostname,
    route.path,
    route.service,
    route.zone,
    route.tunnelName,
    JSON.stringify(route.spec),
    route.status,
    route.statusMessage,
    JSON.stringify(route.problems),
    route.deleteAfter,
    route.claimedAt,
    at,
    at,
  );
  return Number(result.lastInsertRowid);
}

export function updateRoute(db: SqliteDatabase, id: number, route: RouteWrite, at: string): void {
  statement(
    db,
    `UPDATE routes SET container_name = ?, hostname = ?, path = ?, service = ?, zone = ?, tunnel_name = ?,
       spec = ?, status = ?, status_message = ?, problems = ?, delete_after = ?, claimed_at = ?, updated_at = ?
     WHERE id = ?`,
  ).run(
    route.containerName,
    route.hostname,
    route.path,
    route.service,
    route.zone,
    route.tunnelName,
    JSON.stringify(route.spec),
    route.status,
    route.statusMessage,
    JSON.stringify(route.problems),
    route.deleteAfter,
    route.claimedAt,
    at,
    id,
  );
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

export function deleteRoute(db: SqliteDatabase, id: number): void {
  statement(db, 'DELETE FROM routes WHERE id = ?').run(id);
}

/** Every route; the reconciler works on the whole desired state at once. */
export function listAllRoutes(db: SqliteDatabase): RouteRecord[] {
  return listRoutes(db);
}

export function listAgentRoutes(db: SqliteDatabase, agentId: string): RouteRecord[] {
  return listRoutes(db, { agentId });
}

/** Routes on one hostname (any path), for claim resolution. */
export function listHostnameRoutes(db: SqliteDatabase, hostname: string): RouteRecord[] {
  return listRoutes(db, { hostname });
}

// --- conflicts -----------------------------------------------------------------------------------

export type ConflictKind = ConflictRecord['kind'];

/** Opens a conflict of `kind` for the route, or refreshes the open one (one open row per kind). */
export function openConflict(
  db: SqliteDatabase,
  conflict: {
    kind: ConflictKind;
    hostname: string;
    path: string;
    routeId: number;
    holderRouteId: number | null;
    message: string;
  },
  at: string,
): void {
  const updated = statement(
    db,
    `UPDATE conflicts SET holder_route_id = ?, message = ?, hostname = ?, path = ?
     WHERE route_id = ? AND kind = ? AND resolved_at IS NULL`,
  ).run(
    conflict.holderRouteId,
    conflict.message,
    conflict.hostname,
    conflict.path,
    conflict.routeId,
    conflict.kind,
  );
  if (updated.changes > 0) return;
  statement(
    db,
    `INSERT INTO conflicts (kind, hostname, path, route_id, holder_route_id, message, detected_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    conflict.kind,
    conflict.hostname,
    conflict.path,
    conflict.routeId,
    conflict.holderRouteId,
    conflict.message,
    at,
  );
}

/** Resolves the route's open conflicts of these kinds (all kinds when none are given). */
export function resolveConflicts(
  db: SqliteDatabase,
  routeId: number,
  at: string,
  kinds: readonly ConflictKind[] = [],
): void {
  if (kinds.length === 0) {
    statement(db, 'UPDATE conflicts SET resolved_at = ? WHERE route_id = ? AND resolved_at IS NULL').run(
      at,
      routeId,
    );
    return;
  }
  for (const kind of kinds) {
    statement(
      db,
      'UPDATE conflicts SET resolved_at = ? WHERE route_id = ? AND kind = ? AND resolved_at IS NULL',
    ).run(at, routeId, kind);
  }
}

export function openConflictKinds(db: SqliteDatabase, routeId: number): ConflictKind[] {
  return (
    statement(db, 'SELECT DISTINCT kind FROM conflicts WHERE route_id = ? AND resolved_at IS NULL').all(
      routeId,
    ) as { kind: ConflictKind }[]
  ).map((row) => row.kind);
}

// --- owned objects -------------------------------------------------------------------------------

export interface OwnedIngressRule {
  tunnelId: string;
  hostname: string;
  path: string;
}

export interface OwnedRecord {
  cfId: string;
  zoneId: string;
  hostname: string;
}

export interface OwnedApp {
  cfId: string;
  hostname: string;
  path: string;
}

export function listOwnedIngressRules(db: SqliteDatabase, tunnelId?: string): OwnedIngressRule[] {
  return (
    statement(
      db,
      `SELECT tunnel_id, hostname, path FROM owned_objects
       WHERE kind = 'ingress_rule' AND (? IS NULL OR tunnel_id = ?) ORDER BY id`,
    ).all(tunnelId ?? null, tunnelId ?? null) as { tunnel_id: string; hostname: string; path: string }[]
  ).map((row) => ({ tunnelId: row.tunnel_id, hostname: row.hostname, path: row.path }));
}

/** Replaces what we own on one tunnel with what its sync returned. */
export function replaceOwnedIngressRules(
  db: SqliteDatabase,
  tunnelId: string,
  rules: readonly { hostname: string; path: string }[],
  at: string,
): void {
  statement(db, "DELETE FROM owned_objects WHERE kind = 'ingress_rule' AND tunnel_id = ?").run(tunnelId);
  for (const rule of rules) {
    statement(
      db,
      `INSERT INTO owned_objects (kind, tunnel_id, hostname, path, created_at) VALUES ('ingress_rule', ?, ?, ?, ?)`,
    ).run(tunnelId, rule.hostname, rule.path, at);
  }
}

export function listOwnedRecords(db: SqliteDatabase, zoneId?: string): OwnedRecord[] {
  return (
    statement(
      db,
      `SELECT cf_id, zone_id, hostname FROM owned_objects
       WHERE kind = 'dns_record' AND (? IS NULL OR zone_id = ?) ORDER BY id`,
    ).all(zoneId ?? null, zoneId ?? null) as { cf_id: string; zone_id: string; hostname: string }[]
  ).map((row) => ({ cfId: row.cf_id, zoneId: row.zone_id, hostname: row.hostname }));
}

export function replaceOwnedRecords(
  db: SqliteDatabase,
  zoneId: string,
  records: readonly { hostname: string; recordId: string; adopted: boolean }[],
  at: string,
): void {
  statement(db, "DELETE FROM owned_objects WHERE kind = 'dns_record' AND zone_id = ?").run(zoneId);
  for (const record of records) {
    statement(
      db,
      `INSERT INTO owned_objects (kind, cf_id, zone_id, hostname, adopted, created_at)
       VALUES ('dns_record', ?, ?, ?, ?, ?)`,
    ).run(record.recordId, zoneId, record.hostname, record.adopted ? 1 : 0, at);
  }
}

export function listOwnedApps(db: SqliteDatabase): OwnedApp[] {
  return (
    statement(
      db,
      "SELECT cf_id, hostname, path FROM owned_objects WHERE kind = 'access_app' ORDER BY id",
    ).all() as { cf_id: string; hostname: string; path: string }[]
  ).map((row) => ({ cfId: row.cf_id, hostname: row.hostname, path: row.path }));
}

export function replaceOwnedApps(db: SqliteDatabase, apps: readonly OwnedApp[], at: string): void {
  statement(db, "DELETE FROM owned_objects WHERE kind = 'access_app'").run();
  for (const app of apps) {
    statement(
      db,
      `INSERT INTO owned_objects (kind, cf_id, hostname, path, created_at) VALUES ('access_app', ?, ?, ?, ?)`,
    ).run(app.cfId, app.hostname, app.path, at);
  }
}

// --- retained routes (cleanup=false) -------------------------------------------------------------

/**
 * A route whose container went away for good with `cleanup=false`: its row is gone, but
 * Tunnelfleet keeps owning and maintaining its rule, record and app, until a new route claims
 * the same hostname and path. Kept in `settings` (one JSON document) so no schema change is needed.
 */
export interface RetainedRoute {
  agentId: string;
  containerName: string;
  hostname: string;
  path: string;
  service: string;
  zone: string | null;
  tunnelId: string;
  spec: RouteSpec;
  retainedAt: string;
}

const RETAINED_KEY = 'routes.retained';

export function listRetainedRoutes(db: SqliteDatabase): RetainedRoute[] {
  const raw = getSetting(db, RETAINED_KEY);
  return raw === undefined ? [] : parseJsonColumn<RetainedRoute[]>(raw, []);
}

export function saveRetainedRoutes(db: SqliteDatabase, routes: readonly RetainedRoute[]): void {
  setSetting(db, RETAINED_KEY, JSON.stringify(routes));
}
