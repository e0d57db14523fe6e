import { listRetainedRoutes } from '../routes/retained-routes.js';
import { type RouteSpec, readRouteSpec } from '../routes/route-spec.js';
import { foreignConflicts, isCloudDesired, routeTunnelId } from '../routes/route-targets.js';
import type { ConflictKind } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes, type RouteRecord } from '../store/routes.js';

/** A route Cloudflare should carry: a claim holder, or a retained `cleanup=false` route (no row). */
export interface CarriedRoute {
  route: RouteRecord | null;
  agentId: string;
  hostname: string;
  path: string;
  service: string;
  tunnelId: string;
  zone: string | null;
  spec: RouteSpec;
  claimedAt: string;
  /** Open conflicts with foreign objects: only the sync that checks each of them carries the route. */
  foreignConflicts: readonly ConflictKind[];
}

interface DesiredState {
  carried: CarriedRoute[];
  /** Routes that should be carried but have no tunnel to be carried by. */
  withoutTunnel: RouteRecord[];
}

/** The whole desired Cloudflare state, read from SQLite (the source of truth) in one go. */
export function readDesiredState(db: SqliteDatabase, now: Date): DesiredState {
  const carried: CarriedRoute[] = [];
  const withoutTunnel: RouteRecord[] = [];
  for (const route of listRoutes(db)) {
    if (!isCloudDesired(db, route, now) || route.hostname === null || route.service === null) continue;
    const tunnelId = routeTunnelId(db, route);
    if (!tunnelId) {
      withoutTunnel.push(route);
      continue;
    }
    carried.push({
      route,
      agentId: route.agentId,
      hostname: route.hostname,
      path: route.path,
      service: route.service,
      tunnelId,
      zone: route.zone,
      spec: readRouteSpec(route.spec),
      claimedAt: route.claimedAt,
      foreignConflicts: foreignConflicts(db, route.id),
    });
  }
  for (const kept of listRetainedRoutes(db)) {
    carried.push({
      route: null,
      ...kept,
      spec: readRouteSpec(kept.spec),
      claimedAt: kept.retainedAt,
      foreignConflicts: [],
    });
  }
  return { carried, withoutTunnel };
}

/** Of several carried routes on one hostname (different paths), the DNS record follows the first claim. */
export function dnsHolders(carried: readonly CarriedRoute[]): Map<string, CarriedRoute> {
  const holders = new Map<string, CarriedRoute>();
  for (const route of carried) {
    if (!route.spec.dns) continue;
    const current = holders.get(route.hostname);
    if (!current || route.claimedAt < current.claimedAt) holders.set(route.hostname, route);
  }
  return holders;
}
