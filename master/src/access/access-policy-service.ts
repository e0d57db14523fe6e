import { randomBytes } from 'node:crypto';
import {
  ConflictError,
  type CreateAccessPolicyRequest,
  NotFoundError,
  type UpdateAccessPolicyRequest,
} from '@tunnelfleet/common';
import type { MasterHooks } from '../agents/ports.js';
import { readRouteSpec } from '../routes/route-spec.js';
import { ACCESS_TARGET, type SyncTarget } from '../routes/route-targets.js';
import {
  type AccessPolicyRecord,
  deleteAccessPolicy,
  findAccessPolicy,
  findAccessPolicyByName,
  insertAccessPolicy,
  listAccessPolicies,
  updateAccessPolicy,
} from '../store/access-policies.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';

export interface AccessPolicyServiceDeps {
  db: SqliteDatabase;
  hooks: Pick<MasterHooks, 'markDirty'>;
}

export type AccessPolicyService = ReturnType<typeof createAccessPolicyService>;

/**
 * The named Access policies labels refer to (`tunnelfleet.access.named_policy`). Every change is
 * written to SQLite, audited, and the Access sync target marked dirty: the Access sync pushes the
 * policies to Cloudflare as reusable policies and links them to the apps of the routes naming
 * them, so a change reaches Cloudflare within the sync debounce. Tunnels and DNS records are
 * not marked here: the Access sync queues them itself when what may be published changes.
 */
export function createAccessPolicyService(deps: AccessPolicyServiceDeps) {
  const { db } = deps;
  const affectedTargets: readonly SyncTarget[] = [ACCESS_TARGET];

  function requirePolicy(id: string): AccessPolicyRecord {
    const policy = findAccessPolicy(db, id);
    if (!policy) throw new NotFoundError(`access policy ${id} not found`);
    return policy;
  }

  function refuseDuplicateName(name: string, exceptId?: string): void {
    const holder = findAccessPolicyByName(db, name);
    if (holder && holder.id !== exceptId) throw new ConflictError(`name: policy ${name} already exists`);
  }

  /**
   * Routes name policies by name: removing or renaming a policy a route names would take the
   * route's Access away, and the Access sync would then withdraw the route (fail closed) and take
   * a working hostname offline. Refused while a route (other than a revoked one) names it.
   */
  function refuseWhileNamed(policy: AccessPolicyRecord, change: string): void {
    const hostnames = usage().get(policy.name) ?? [];
    if (hostnames.length > 0) {
      throw new ConflictError(
        `cannot ${change} policy ${policy.name}: routes name it (${hostnames.join(', ')}); ` +
          'change their labels first',
      );
    }
  }

  /** Policy name → the hostnames (and paths) of the routes, not revoked, that name it, sorted. */
  function usage(): Map<string, string[]> {
    const byName = new Map<string, Set<string>>();
    for (const route of listRoutes(db)) {
      if (route.status === 'revoked') continue;
      for (const name of readRouteSpec(route.spec).access?.namedPolicies ?? []) {
        const hostnames = byName.get(name) ?? new Set<string>();
        hostnames.add(`${route.hostname ?? route.routeKey}${route.path}`);
        byName.set(name, hostnames);
      }
    }
    return new Map([...byName].map(([name, hostnames]) => [name, [...hostnames].sort()]));
  }

  async function changed(): Promise<void> {
    // The change is in SQLite already: a failed mark is caught up by the next full reconcile.
    await deps.hooks.markDirty(affectedTargets);
  }

  async function create(request: CreateAccessPolicyRequest, actor: AuditActor): Promise<AccessPolicyRecord> {
    const policy = db.transaction(() => {
      refuseDuplicateName(request.name);
      const created = insertAccessPolicy(db, { id: `ap_${randomBytes(8).toString('hex')}`, ...request });
      recordAudit(db, {
        actor,
        action: 'access_policy.create',
        target: created.id,
        details: { name: created.name },
      });
      return created;
    })();
    await changed();
    return policy;
  }

  async function update(
    id: string,
    request: UpdateAccessPolicyRequest,
    actor: AuditActor,
  ): Promise<AccessPolicyRecord> {
    const policy = db.transaction(() => {
      const current = requirePolicy(id);
      if (request.name !== undefined && request.name !== current.name) {
        refuseDuplicateName(request.name, current.id);
        refuseWhileNamed(current, 'rename');
      }
      const updated = updateAccessPolicy(db, current.id, request)!;
      recordAudit(db, {
        actor,
        action: 'access_policy.update',
        target: current.id,
        details: { name: updated.name, ...(updated.name !== current.name ? { from: current.name } : {}) },
      });
      return updated;
    })();
    await changed();
    return policy;
  }

  async function remove(id: string, actor: AuditActor): Promise<void> {
    db.transaction(() => {
      const policy = requirePolicy(id);
      refuseWhileNamed(policy, 'delete');
      deleteAccessPolicy(db, policy.id);
      recordAudit(db, {
        actor,
        action: 'access_policy.delete',
        target: policy.id,
        details: { name: policy.name },
      });
    })();
    await changed();
  }

  /** Every policy with the routes that name it (the dashboard's Access page). */
  function listWithUsage() {
    const used = usage();
    return listAccessPolicies(db).map((policy) => ({ ...policy, usedBy: used.get(policy.name) ?? [] }));
  }

  return { list: listWithUsage, get: requirePolicy, create, update, remove };
}
