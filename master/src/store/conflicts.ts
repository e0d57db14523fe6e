import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

interface ConflictRecord {
  id: number;
  kind:
    | 'hostname_claimed'
    | 'foreign_dns_record'
    | 'foreign_access_app'
    | 'foreign_ingress_rule'
    | 'outside_allowlist';
  hostname: string;
  path: string;
  routeId: number | null;
  holderRouteId: number | null;
  message: string;
  detectedAt: string;
  resolvedAt: string | null;
}

interface ConflictRow {
  id: number;
  kind: ConflictRecord['kind'];
  hostname: string;
  path: string;
  route_id: number | null;
  holder_route_id: number | null;
  message: string;
  detected_at: string;
  resolved_at: string | null;
}

function toRecord(row: ConflictRow): ConflictRecord {
  return {
    id: row.id,
    kind: row.kind,
    hostname: row.hostname,
    path: row.path,
    routeId: row.route_id,
    holderRouteId: row.holder_route_id,
    message: row.message,
    detectedAt: row.detected_at,
    resolvedAt: row.resolved_at,
  };
}

export function listConflicts(
  db: SqliteDatabase,
  options: { includeResolved?: boolean } = {},
): ConflictRecord[] {
  const rows = statement(
    db,
    'SELECT * FROM conflicts WHERE (? = 1 OR resolved_at IS NULL) ORDER BY detected_at, id',
  ).all(options.includeResolved ? 1 : 0) as ConflictRow[];
  return rows.map(toRecord);
}

export function findConflict(db: SqliteDatabase, id: number): ConflictRecord | undefined {
  const row = statement(db, 'SELECT * FROM conflicts WHERE id = ?').get(id) as ConflictRow | undefined;
  return row ? toRecord(row) : undefined;
}

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
