import { openConflict, openConflictKinds, resolveConflicts } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes, type RouteRecord, setRouteStatus } from '../store/routes.js';
import { listRetainedRoutes, saveRetainedRoutes } from './retained-routes.js';

/** A route that wants its hostname: running, or stopped but inside its grace period. */
function isClaimant(route: RouteRecord, now: string): boolean {
  if (route.hostname === null) return false;
  if (route.status === 'pending_deletion') return route.deleteAfter !== null && route.deleteAfter > now;
  return route.status === 'active' || route.status === 'error' || route.status === 'conflict';
}

const byClaim = (a: RouteRecord, b: RouteRecord) =>
  a.claimedAt < b.claimedAt ? -1 : a.claimedAt > b.claimedAt ? 1 : a.id - b.id;

function describePath(path: string): string {
  return path ? ` with path ${JSON.stringify(path)}` : '';
}

/**
 * Settles who holds each of these hostnames (per path): the earliest claimant keeps it, every
 * other claimant is a `conflict` with an open `hostname_claimed` conflict naming the holder. A
 * former loser whose holder went away becomes the holder (hand-over). A route that claims a
 * hostname kept for a `cleanup=false` route that is gone takes it over from that retained route.
 * Runs inside the caller's transaction.
 */
export function resolveClaims(db: SqliteDatabase, hostnames: Iterable<string>, now: Date): void {
  const at = now.toISOString();
  const taken = new Set<string>();
  for (const hostname of new Set(hostnames)) {
    const byPath = new Map<string, RouteRecord[]>();
    for (const route of listRoutes(db, { hostname })) {
      if (!isClaimant(route, at)) continue;
      byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
    }
    for (const [path, claimants] of byPath) {
      taken.add(`${hostname}\u0000${path}`);
      const [holder, ...losers] = claimants.sort(byClaim);
      if (!holder) continue;
      if (openConflictKinds(db, holder.id).includes('hostname_claimed')) {
        resolveConflicts(db, holder.id, at, ['hostname_claimed']);
        if (holder.status === 'conflict' && openConflictKinds(db, holder.id).length === 0) {
          setRouteStatus(db, holder.id, 'active', null, at);
        }
      }
      for (const loser of losers) {
        const message =
          `hostname ${hostname}${describePath(path)} is already held by container ${holder.containerName} ` +
          `on agent ${holder.agentId} (claimed ${holder.claimedAt}); this route takes over when that one goes away`;
        openConflict(
          db,
          { kind: 'hostname_claimed', hostname, path, routeId: loser.id, holderRouteId: holder.id, message },
          at,
        );
        if (loser.status !== 'pending_deletion') setRouteStatus(db, loser.id, 'conflict', message, at);
      }
    }
  }
  const retained = listRetainedRoutes(db);
  const kept = retained.filter((r) => !taken.has(`${r.hostname}\u0000${r.path}`));
  if (kept.length !== retained.length) saveRetainedRoutes(db, kept);
}
