import {
  type AccessSpec,
  accessPathProblem,
  checkInlinePolicy,
  stableStringify,
  undefinedPolicyMessage,
} from '@tunnelfleet/common';
import {
  type AccessAppSpec,
  type AccessPolicySpec,
  accessDomain,
  type NamedAccessPolicy,
} from '../cloudflare/access.js';
import { ingressKey } from '../cloudflare/ingress.js';
import { type SyncTarget, tunnelTarget, zoneTarget } from '../routes/route-targets.js';
import { findAccessPolicyByName, listAccessPolicies, setAccessPolicyCfId } from '../store/access-policies.js';
import { recordAudit } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';
import {
  listOwnedApps,
  listOwnedIngressRules,
  listOwnedRecords,
  type OwnedApp,
  replaceOwnedApps,
} from '../store/owned-objects.js';
import { type AccessGuards, readAccessGuards, writeAccessGuards } from './access-guards.js';
import { type CarriedRoute, readDesiredState, routesOfRule } from './desired-state.js';
import type { SyncContext } from './sync-context.js';

type Translation =
  | { ok: true; spec: AccessAppSpec }
  /** Guarded by the zone's `*.<zone>` application, which is looked up, not made. */
  | { ok: true; zoneDefault: string }
  | { ok: false; message: string };

/**
 * DockFlare's `default_tld`: the route relies on the `*.<zone>` application, which covers the
 * hostnames one label below the zone (and every path of them). Anything else it would not cover.
 */
function translateZoneDefault(route: CarriedRoute): Translation {
  const zone = route.zone;
  const hostname = route.hostname.toLowerCase();
  const label = zone && hostname.endsWith(`.${zone}`) ? hostname.slice(0, -zone.length - 1) : '';
  if (!zone || label === '' || label.includes('.') || label === '*') {
    return {
      ok: false,
      message: `access.policy=default_tld: ${hostname} is not one label below its zone${zone ? ` ${zone}` : ''}, so the zone's *.<zone> Access application does not cover it`,
    };
  }
  return { ok: true, zoneDefault: zone };
}

/** The labels' Access request in the layer's terms, or why it cannot be honoured. */
function translateAccess(db: SqliteDatabase, route: CarriedRoute, access: AccessSpec): Translation {
  if (access.zoneDefault) return translateZoneDefault(route);
  // Refused by the label parser already; checked again for a route stored before that check.
  const problem = accessPathProblem(route.path);
  if (problem) return { ok: false, message: `path ${JSON.stringify(route.path)} ${problem}` };
  const spec: AccessAppSpec = {
    hostname: route.hostname,
    ...(route.path ? { path: route.path } : {}),
    ...(access.appName ? { name: access.appName } : {}),
    ...(access.sessionDuration ? { sessionDuration: access.sessionDuration } : {}),
  };
  const policies: AccessPolicySpec[] = [];
  if (access.policy) {
    const { decision, include, require, exclude } = access.policy;
    policies.push({ decision, include, require, exclude });
  }
  for (const [i, raw] of (access.inlinePolicies ?? []).entries()) {
    // Refused by the label parser already; checked again for a route stored before that check.
    const policy = checkInlinePolicy(raw, i);
    if (!policy.ok) return { ok: false, message: `access.custom_rules ${policy.reason}` };
    const { decision, include, require, exclude } = policy.value;
    policies.push({ decision, include, require, exclude });
  }
  if (policies.length > 0) spec.policies = policies;
  for (const name of access.namedPolicies) {
    if (!findAccessPolicyByName(db, name)) return { ok: false, message: undefinedPolicyMessage(name) };
  }
  // The layer pushes the named policies in the same sync and links them by name.
  if (access.namedPolicies.length > 0) spec.namedPolicies = [...access.namedPolicies];
  return { ok: true, spec };
}

/** A route held back by its Access: the status says why, and that nothing of it is published. */
const withheld = (message: string) => `${message}; the route is not published until its Access is in place`;

/**
 * Brings the account's Access applications in line with the routes that ask for one, and decides
 * which of those routes may be published (see access-guards.ts): a route is published only once
 * its app is confirmed, and withdrawn as soon as it is not. Applications we own that no route
 * wants are deleted by the layer (only those carrying our marker), but not while the ingress rule
 * or the CNAME of their domain is still ours at Cloudflare: removal takes those first.
 */
export async function syncAccess(ctx: SyncContext): Promise<void> {
  const { db, cloudflare } = ctx;
  const desiredState = readDesiredState(db, ctx.now());
  const carried = desiredState.carried.filter((r) => r.spec.access);
  const at = () => ctx.now().toISOString();
  const desired: AccessAppSpec[] = [];
  const byDomain = new Map<string, CarriedRoute>();
  /** Routes guarded by their zone's default application: domain → route and zone. */
  const byZoneDefault = new Map<string, { route: CarriedRoute; zone: string }>();
  db.transaction(() => {
    for (const route of carried) {
      const translated = translateAccess(db, route, route.spec.access!);
      if (!translated.ok) {
        const message = withheld(translated.message);
        if (route.route) ctx.outcomes.record(route.route, 'access', { status: 'error', message }, at());
        continue;
      }
      const domain = accessDomain(route.hostname, route.path || undefined);
      if ('zoneDefault' in translated) {
        byZoneDefault.set(domain, { route, zone: translated.zoneDefault });
        continue;
      }
      desired.push(translated.spec);
      byDomain.set(domain, route);
    }
  })();
  const ownedBefore = listOwnedApps(db);
  // A domain now guarded by its zone's default app no longer needs its own: that one goes at once.
  const guardedDomains = new Set([...byDomain.keys(), ...byZoneDefault.keys()]);
  const stillServed = servedApps(db, ownedBefore, guardedDomains, desiredState.published);
  const namedPolicies = listAccessPolicies(db).map(
    ({ name, spec }): NamedAccessPolicy => ({ name, ...spec }),
  );
  const guardsBefore = readAccessGuards(db);
  // No early return when nothing is wanted: a deleted named policy may still be at Cloudflare.
  let result: Awaited<ReturnType<typeof cloudflare.syncAccessApps>>;
  try {
    result = await cloudflare.syncAccessApps({
      desired,
      ownedAppIds: ownedBefore.filter((a) => !stillServed.has(a.cfId)).map((a) => a.cfId),
      namedPolicies,
      zoneDefaults: [...new Set([...byZoneDefault.values()].map((z) => z.zone))],
    });
  } catch (error) {
    const message = withheld((error as Error).message);
    db.transaction(() => {
      // The apps already in place still stand; a domain not confirmed before stays unpublished.
      const apps = Object.fromEntries(
        Object.entries(guardsBefore.apps).filter(
          ([domain]) => byDomain.has(domain) || byZoneDefault.has(domain),
        ),
      );
      writeAccessGuards(db, { ...guardsBefore, apps });
      const routes = [...byDomain, ...[...byZoneDefault].map(([d, z]) => [d, z.route] as const)];
      for (const [domain, route] of routes) {
        if (route.route && !apps[domain]) {
          ctx.outcomes.record(route.route, 'access', { status: 'error', message }, at());
        }
      }
    })();
    await publishChanges(ctx, guardsBefore, carried);
    throw error;
  }
  db.transaction(() => {
    const now = at();
    const domainOf = new Map(
      Object.entries(result.apps).flatMap(([domain, app]) =>
        app.appId ? [[app.appId, domain] as const] : [],
      ),
    );
    const kept = result.ownedAppIds.map((cfId) => {
      const route = byDomain.get(domainOf.get(cfId) ?? '');
      const previous = ownedBefore.find((a) => a.cfId === cfId);
      return {
        cfId,
        hostname: route?.hostname ?? previous?.hostname ?? '',
        path: route?.path ?? previous?.path ?? '',
      };
    });
    const retained = ownedBefore.filter(
      (a) => stillServed.has(a.cfId) && !kept.some((k) => k.cfId === a.cfId),
    );
    replaceOwnedApps(db, [...kept, ...retained], now);
    for (const [name, cfPolicyId] of Object.entries(result.namedPolicyIds)) {
      setAccessPolicyCfId(db, name, cfPolicyId);
    }
    const previous = new Set(ownedBefore.map((a) => a.cfId));
    const created = kept.filter((a) => !previous.has(a.cfId));
    if (created.length > 0 || result.deletedAppIds.length > 0) {
      recordAudit(db, {
        actor: 'system',
        action: 'cloudflare.access.sync',
        target: 'access',
        details: {
          created: created.map((a) => ({ appId: a.cfId, hostname: a.hostname })),
          deleted: result.deletedAppIds,
        },
      });
    }
    const guarded: Record<string, string> = {};
    for (const [domain, route] of byDomain) {
      const app = result.apps[domain];
      const confirmed = app && (app.status === 'ok' || app.status === 'adopted') && app.aud;
      if (confirmed) guarded[domain] = app.aud!;
      // A gateway group's members share the rule's app: its verdict is theirs.
      for (const served of routesOfRule(route)) {
        if (confirmed) {
          ctx.outcomes.record(served, 'access', { status: 'ok' }, now);
        } else {
          const status = app?.status === 'conflict' ? 'conflict' : 'error';
          const message = withheld(app?.message ?? `Access application for ${domain}: not in place`);
          ctx.outcomes.record(served, 'access', { status, message }, now);
        }
      }
    }
    for (const [domain, { route, zone }] of byZoneDefault) {
      const app = result.zoneDefaults[zone];
      if (app?.status === 'ok' && app.aud) guarded[domain] = app.aud;
      if (!route.route) continue;
      if (guarded[domain]) ctx.outcomes.record(route.route, 'access', { status: 'ok' }, now);
      else {
        const message = withheld(`access.policy=default_tld: ${app?.message ?? 'no zone default'}`);
        ctx.outcomes.record(route.route, 'access', { status: 'error', message }, now);
      }
    }
    writeAccessGuards(db, { teamName: result.teamName, apps: guarded });
  })();
  await publishChanges(ctx, guardsBefore, carried);
}

/**
 * Owned apps whose domain no route wants any more but whose ingress rule (or, for a whole
 * hostname, CNAME about to go) is still ours: kept until the tunnel and zone syncs have taken
 * those away. A CNAME another route of the hostname still wants does not hold the app back.
 */
function servedApps(
  db: SqliteDatabase,
  owned: readonly OwnedApp[],
  wanted: ReadonlySet<string>,
  published: readonly CarriedRoute[],
): Set<string> {
  const rules = new Set(listOwnedIngressRules(db).map((r) => ingressKey(r.hostname, r.path || undefined)));
  const recordsKept = new Set(published.filter((r) => r.spec.dns).map((r) => r.hostname));
  const records = new Set(
    listOwnedRecords(db)
      .map((r) => r.hostname)
      .filter((hostname) => !recordsKept.has(hostname)),
  );
  return new Set(
    owned
      .filter((app) => !wanted.has(accessDomain(app.hostname, app.path || undefined)))
      .filter(
        (app) =>
          rules.has(ingressKey(app.hostname, app.path || undefined)) ||
          (app.path === '' && records.has(app.hostname)),
      )
      .map((app) => app.cfId),
  );
}

/** Queues the tunnel and zone syncs of the protected routes when what may be published changed. */
async function publishChanges(ctx: SyncContext, before: AccessGuards, carried: readonly CarriedRoute[]) {
  const after = readAccessGuards(ctx.db);
  if (stableStringify(after) === stableStringify(before)) return;
  const targets = new Set<SyncTarget>();
  for (const route of carried) {
    targets.add(tunnelTarget(route.tunnelId));
    if (route.spec.dns && route.zone) targets.add(zoneTarget(route.zone));
  }
  await ctx.markDirty([...targets]);
}
