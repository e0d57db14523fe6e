import { NotFoundError, type RetainedRouteView } from '@tunnelfleet/common';
import type { MasterHooks } from '../agents/ports.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRetainedRoutes, type RetainedRoute, removeRetainedRoutes } from './retained-routes.js';
import { readRouteSpec } from './route-spec.js';
import { carriedRouteTargets, type SyncTarget } from './route-targets.js';

export interface RetainedRouteServiceDeps {
  db: SqliteDatabase;
  hooks: Pick<MasterHooks, 'markDirty'>;
}

export type RetainedRouteService = ReturnType<typeof createRetainedRouteService>;

function view({ spec: _spec, ...route }: RetainedRoute): RetainedRouteView {
  return route;
}

/** What the audit log keeps of a removed retained route: enough to tell what was published. */
const audited = (route: RetainedRoute) => ({
  id: route.id,
  agentId: route.agentId,
  hostname: route.hostname,
  path: route.path,
  service: route.service,
});

/**
 * Retained routes as operators see and end them. A removal is written to SQLite and audited first,
 * then its tunnel, zone and Access targets are marked dirty: the debounced sync withdraws the
 * rule, record and app (and a failed enqueue is caught up by the next full reconcile, which no
 * longer finds them desired).
 */
export function createRetainedRouteService(deps: RetainedRouteServiceDeps) {
  const { db } = deps;

  function list(filter: { agentId?: string; hostname?: string } = {}): RetainedRouteView[] {
    return listRetainedRoutes(db)
      .filter((route) => filter.agentId === undefined || route.agentId === filter.agentId)
      .filter((route) => filter.hostname === undefined || route.hostname === filter.hostname)
      .map(view);
  }

  async function withdraw(removed: RetainedRoute[]): Promise<void> {
    const targets = new Set<SyncTarget>();
    for (const route of removed) {
      for (const target of carriedRouteTargets({ ...route, spec: readRouteSpec(route.spec) }))
        targets.add(target);
    }
    if (targets.size > 0) await deps.hooks.markDirty([...targets]);
  }

  /** An operator deletes one retained route. */
  async function remove(id: string, actor: AuditActor): Promise<void> {
    const removed = db.transaction(() => {
      const [route] = removeRetainedRoutes(db, (r) => r.id === id);
      if (!route) throw new NotFoundError(`retained route ${id} not found`);
      recordAudit(db, { actor, action: 'route.retained.delete', target: id, details: audited(route) });
      return route;
    })();
    await withdraw([removed]);
  }

  /**
   * The agent was revoked or deleted: nothing it published outlives it, retained routes included.
   * Returns the routes removed.
   */
  async function releaseAgent(agentId: string): Promise<RetainedRouteView[]> {
    const removed = db.transaction(() => {
      const routes = removeRetainedRoutes(db, (r) => r.agentId === agentId);
      if (routes.length > 0) {
        recordAudit(db, {
          actor: 'system',
          action: 'routes.retained.release',
          target: agentId,
          details: { routes: routes.map(audited) },
        });
      }
      return routes;
    })();
    await withdraw(removed);
    return removed.map(view);
  }

  return { list, remove, releaseAgent };
}
