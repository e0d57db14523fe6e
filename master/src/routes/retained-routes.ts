import type { SqliteDatabase } from '../store/database.js';
import { getSetting, setSetting } from '../store/settings.js';
import { parseJsonColumn } from '../store/statements.js';
import type { RouteSpec } from './route-spec.js';

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
