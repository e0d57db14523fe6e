import { ConflictError, NotFoundError } from '@tunnelfleet/common';
import type { MasterHooks } from '../agents/ports.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import { findConflict } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { findRoute, listRoutes, setRouteClaimedAt } from '../store/routes.js';
import { resolveClaims } from './claims.js';
import { routeTargets, type SyncTarget } from './route-targets.js';

/**
 * An operator settles a `hostname_claimed` conflict for the route that waits: its claim is moved
 * to just before the earliest claim on the hostname, so `resolveClaims` makes it the holder and
 * the former holder waits in its turn (an ordinary conflict, which the former holder's agent
 * gets back the same way). Written and audited in one transaction; the tunnels, zone and Access of
 * both sides are then synced within the debounce.
 */
export async function handOverHostname(
  deps: { db: SqliteDatabase; hooks: Pick<MasterHooks, 'markDirty'>; now: () => Date },
  conflictId: number,
  actor: AuditActor,
): Promise<void> {
  const { db } = deps;
  const touched = db.transaction(() => {
    const conflict = findConflict(db, conflictId);
    if (!conflict) throw new NotFoundError(`no conflict ${conflictId}`);
    if (conflict.kind !== 'hostname_claimed' || conflict.resolvedAt !== null || conflict.routeId === null) {
      throw new ConflictError(
        `conflict ${conflictId} is not an open claim on a hostname: only those can be handed over`,
      );
    }
    const waiter = findRoute(db, conflict.routeId);
    if (!waiter) throw new NotFoundError(`the waiting route ${conflict.routeId} is gone`);
    const claimants = listRoutes(db, { hostname: conflict.hostname }).filter((r) => r.status !== 'revoked');
    const earliest = Math.min(...claimants.map((r) => Date.parse(r.claimedAt)), Date.parse(waiter.claimedAt));
    const formerHolders = claimants.filter((r) => r.agentId !== waiter.agentId);
    setRouteClaimedAt(db, waiter.id, new Date(earliest - 1).toISOString());
    resolveClaims(db, [conflict.hostname], deps.now());
    recordAudit(db, {
      actor,
      action: 'conflict.hand_over',
      target: conflict.hostname,
      details: {
        hostname: conflict.hostname,
        to: { routeId: waiter.id, agentId: waiter.agentId },
        from: formerHolders.map((r) => ({ routeId: r.id, agentId: r.agentId })),
      },
    });
    return [waiter, ...formerHolders].map((r) => findRoute(db, r.id) ?? r);
  })();
  const targets = new Set<SyncTarget>();
  for (const route of touched) for (const target of routeTargets(db, route)) targets.add(target);
  await deps.hooks.markDirty([...targets]);
}
