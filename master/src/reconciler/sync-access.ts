import type { AccessRule, AccessSpec } from '@tunnelfleet/common';
import {
  type AccessAppSpec,
  type AccessPolicySpec,
  accessDomain,
  type NamedAccessPolicy,
} from '../cloudflare/access.js';
import { findAccessPolicyByName, listAccessPolicies, setAccessPolicyCfId } from '../store/access-policies.js';
import { recordAudit } from '../store/audit-log.js';
import type { SqliteDatabase } from '../store/database.js';
import { listOwnedApps, replaceOwnedApps } from '../store/owned-objects.js';
import { type CarriedRoute, readDesiredState } from './desired-state.js';
import type { SyncContext } from './sync-context.js';

type Translation = { ok: true; spec: AccessAppSpec } | { ok: false; message: string };

function translateRules(rules: readonly AccessRule[]): Omit<AccessPolicySpec, 'decision'> | string {
  const emails: string[] = [];
  const emailDomains: string[] = [];
  const serviceTokenIds: string[] = [];
  const out: Omit<AccessPolicySpec, 'decision'> = {};
  for (const rule of rules) {
    if ('email' in rule) emails.push(rule.email.email);
    else if ('email_domain' in rule) emailDomains.push(rule.email_domain.domain);
    else if ('everyone' in rule) out.everyone = true;
    else if ('service_token' in rule) serviceTokenIds.push(rule.service_token.token_id);
    else if ('any_valid_service_token' in rule) out.anyValidServiceToken = true;
    else
      return `Access rule ${Object.keys(rule)[0]} is not supported yet; use a named policy defined on the master`;
  }
  if (emails.length > 0) out.emails = emails;
  if (emailDomains.length > 0) out.emailDomains = emailDomains;
  if (serviceTokenIds.length > 0) out.serviceTokenIds = serviceTokenIds;
  return out;
}

/** The labels' Access request in the layer's terms, or why it cannot be honoured. */
function translateAccess(db: SqliteDatabase, route: CarriedRoute, access: AccessSpec): Translation {
  const spec: AccessAppSpec = {
    hostname: route.hostname,
    ...(route.path ? { path: route.path } : {}),
    ...(access.appName ? { name: access.appName } : {}),
    ...(access.sessionDuration ? { sessionDuration: access.sessionDuration } : {}),
  };
  if (access.inlinePolicies && access.inlinePolicies.length > 0) {
    return {
      ok: false,
      message: 'inline Access policies (access.custom_rules) are not supported; use a named policy',
    };
  }
  if (access.policy) {
    if (access.policy.require.length > 0 || access.policy.exclude.length > 0) {
      return { ok: false, message: 'Access require/exclude rules are not supported yet; use a named policy' };
    }
    const rules = translateRules(access.policy.include);
    if (typeof rules === 'string') return { ok: false, message: rules };
    spec.policies = [{ decision: access.policy.decision, ...rules }];
  }
  for (const name of access.namedPolicies) {
    if (!findAccessPolicyByName(db, name))
      return { ok: false, message: `Access policy "${name}" is not defined on the master` };
  }
  // The layer pushes the named policies in the same sync and links them by name.
  if (access.namedPolicies.length > 0) spec.namedPolicies = [...access.namedPolicies];
  return { ok: true, spec };
}

/**
 * Brings the account's Access applications in line with the routes that ask for one. Applications
 * we own that no route wants are deleted by the layer (only those carrying our marker).
 */
export async function syncAccess(ctx: SyncContext): Promise<void> {
  const { db, cloudflare } = ctx;
  const carried = readDesiredState(db, ctx.now()).carried.filter((r) => r.spec.access);
  const at = () => ctx.now().toISOString();
  const desired: AccessAppSpec[] = [];
  const byDomain = new Map<string, CarriedRoute>();
  db.transaction(() => {
    for (const route of carried) {
      const translated = translateAccess(db, route, route.spec.access!);
      if (!translated.ok) {
        if (route.route)
          ctx.outcomes.record(route.route, 'access', { status: 'error', message: translated.message }, at());
        continue;
      }
      desired.push(translated.spec);
      byDomain.set(accessDomain(route.hostname, route.path || undefined), route);
    }
  })();
  const ownedBefore = listOwnedApps(db);
  const namedPolicies = listAccessPolicies(db).map(
    ({ name, spec }): NamedAccessPolicy => ({ name, ...spec }),
  );
  // No early return when nothing is wanted: a deleted named policy may still be at Cloudflare.
  let result: Awaited<ReturnType<typeof cloudflare.syncAccessApps>>;
  try {
    result = await cloudflare.syncAccessApps({
      desired,
      ownedAppIds: ownedBefore.map((a) => a.cfId),
      namedPolicies,
    });
  } catch (error) {
    const message = (error as Error).message;
    db.transaction(() => {
      for (const route of byDomain.values()) {
        if (route.route) ctx.outcomes.record(route.route, 'access', { status: 'error', message }, at());
      }
    })();
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
    replaceOwnedApps(db, kept, now);
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
    for (const [domain, route] of byDomain) {
      if (!route.route) continue;
      const app = result.apps[domain];
      if (!app || app.status === 'ok' || app.status === 'adopted') {
        ctx.outcomes.record(route.route, 'access', { status: 'ok' }, now);
      } else {
        const message = app.message ?? `Access application for ${domain}: ${app.status}`;
        ctx.outcomes.record(route.route, 'access', { status: app.status, message }, now);
      }
    }
  })();
}
