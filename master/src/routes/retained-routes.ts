import { randomBytes } from 'node:crypto';
import type { SqliteDatabase } from '../store/database.js';
import { getSetting, setSetting } from '../store/settings.js';
import { parseJsonColumn } from '../store/statements.js';
import type { RouteSpec } from './route-spec.js';

/**
 * A route whose container went away for good with `cleanup=false`: its row is gone, but
 * Tunnelfleet keeps owning and maintaining its rule, record and app, until a new route claims
 * the same hostname, an operator deletes it, or its agent is revoked or deleted. Kept in
 * `settings` (one JSON document); the admin API lists it beside the routes.
 */
export interface RetainedRoute {
  /** `rr_<16 hex>`: how the admin API names it (the route row it came from is gone). */
  id: string;
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

export function newRetainedRouteId(): string {
  return `rr_${randomBytes(8).toString('hex')}`;
}

/** Removes the retained routes `match` picks and returns them. Runs inside the caller's transaction. */
export function removeRetainedRoutes(
  db: SqliteDatabase,
  match: (route: RetainedRoute) => boolean,
): RetainedRoute[] {
  const all = listRetainedRoutes(db);
  const removed = all.filter(match);
  if (removed.length > 0)
    saveRetainedRoutes(
      db,
      all.filter((route) => !match(route)),
    );
  return removed;
}
