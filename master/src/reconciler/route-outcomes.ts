import { type ConflictKind, openConflict, openConflictKinds, resolveConflicts } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { type RouteRecord, setSyncedRouteStatus } from '../store/routes.js';

type RoutePart = 'ingress' | 'dns' | 'access';

type PartOutcome = { status: 'ok' } | { status: 'conflict' | 'error'; message: string };

const FOREIGN_KIND: Partial<Record<RoutePart, ConflictKind>> = {
  dns: 'foreign_dns_record',
  access: 'foreign_access_app',
  ingress: 'foreign_ingress_rule',
};

/**
 * A route's status is the sum of what the last sync of each of its parts found (the rule on its
 * tunnel, the record in its zone, its Access app): any error makes it `error`, else any foreign
 * object makes it `conflict`, else it is `active`. The per-part verdicts are kept in memory only:
 * they are facts about Cloudflare, found again by the full reconcile after a restart.
 */
export function createRouteOutcomes(
  db: SqliteDatabase,
  /** A foreign conflict of the route opened or closed: what its other parts publish changes. */
  onForeignConflictChanged: (route: RouteRecord) => void,
) {
  // Only the parts that are not ok: a fleet's routes are nearly all ok, and 200,000 routes with a
  // map each would hold tens of megabytes to say so.
  const failing = new Map<number, Map<RoutePart, Exclude<PartOutcome, { status: 'ok' }>>>();

  function record(route: RouteRecord, part: RoutePart, outcome: PartOutcome, at: string): void {
    let known = failing.get(route.id);
    if (outcome.status === 'ok') {
      known?.delete(part);
      if (known?.size === 0) failing.delete(route.id);
    } else {
      if (!known) {
        known = new Map();
        failing.set(route.id, known);
      }
      known.set(part, outcome);
    }
    const kind = FOREIGN_KIND[part];
    const wasOpen = kind !== undefined && openConflictKinds(db, route.id).includes(kind);
    const nowOpen = kind !== undefined && outcome.status === 'conflict' && route.hostname !== null;
    if (kind && nowOpen && route.hostname) {
      openConflict(
        db,
        {
          kind,
          hostname: route.hostname,
          path: route.path,
          routeId: route.id,
          holderRouteId: null,
          message: outcome.message,
        },
        at,
      );
    } else if (wasOpen) {
      resolveConflicts(db, route.id, at, [kind]);
    }
    if (wasOpen !== nowOpen) onForeignConflictChanged(route);
    const all = [...(failing.get(route.id)?.values() ?? [])];
    const worst = all.find((o) => o.status === 'error') ?? all.find((o) => o.status === 'conflict');
    // A stopped container's route keeps saying so; its parts still count once it restarts.
    if (worst) setSyncedRouteStatus(db, route.id, worst.status, worst.message, at);
    else setSyncedRouteStatus(db, route.id, 'active', null, at);
  }

  return {
    record,
    forget: (routeId: number) => failing.delete(routeId),
  };
}

export type RouteOutcomes = ReturnType<typeof createRouteOutcomes>;
