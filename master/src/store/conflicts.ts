import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

export interface ConflictRecord {
  id: number;
  kind: 'hostname_claimed' | 'foreign_dns_record' | 'foreign_access_app' | 'outside_allowlist';
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

/** Read side for the API; the routes engine records and resolves conflicts. */
export function listConflicts(
  db: SqliteDatabase,
  options: { includeResolved?: boolean } = {},
): ConflictRecord[] {
  const rows = statement(
    db,
    'SELECT * FROM conflicts WHERE (? = 1 OR resolved_at IS NULL) ORDER BY detected_at, id',
  ).all(options.includeResolved ? 1 : 0) as ConflictRow[];
  return rows.map((row) => ({
    id: row.id,
    kind: row.kind,
    hostname: row.hostname,
    path: row.path,
    routeId: row.route_id,
    holderRouteId: row.holder_route_id,
    message: row.message,
    detectedAt: row.detected_at,
    resolvedAt: row.resolved_at,
  }));
}
