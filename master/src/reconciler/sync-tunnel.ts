import { TunnelNotFoundError } from '../cloudflare/errors.js';
import { type DesiredIngressRule, ingressKey } from '../cloudflare/ingress.js';
import { ACCESS_TARGET } from '../routes/route-targets.js';
import { recordAudit } from '../store/audit-log.js';
import { listOwnedApps, listOwnedIngressRules, replaceOwnedIngressRules } from '../store/owned-objects.js';
import { type CarriedRoute, type PublishedRoute, readDesiredState, routesOfRule } from './desired-state.js';
import { readTunnelMemo, writeTunnelMemo } from './ingress-intent.js';
import type { SyncContext } from './sync-context.js';

/** `hostname|path` back into its parts (see `ingressKey`). */
function splitKey(key: string): { hostname: string; path: string } {
  const bar = key.indexOf('|');
  return bar < 0 ? { hostname: key, path: '' } : { hostname: key.slice(0, bar), path: key.slice(bar + 1) };
}

const keyOf = (route: Pick<CarriedRoute, 'hostname' | 'path'>) =>
  ingressKey(route.hostname, route.path || undefined);

/** The rule a published route wants on its tunnel (with Access's check when it asks for Access). */
export function desiredIngressRule(route: PublishedRoute): DesiredIngressRule {
  const originRequest: Record<string, unknown> = {
    ...(route.spec.originRequest ?? {}),
    ...(route.accessCheck ? { access: route.accessCheck } : {}),
  };
  return {
    hostname: route.hostname,
    service: route.service,
    ...(route.path ? { path: route.path } : {}),
    ...(Object.keys(originRequest).length > 0 ? { originRequest } : {}),
  };
}

/**
 * Brings one tunnel's ingress in line with the routes it carries: one read and at most one PUT,
 * through the layer, which keeps every rule we do not own. Ownership is recorded from what the
 * layer returns; every route carried by the tunnel gets the verdict on its rule.
 */
export async function syncTunnel(ctx: SyncContext, tunnelId: string): Promise<void> {
  const { db, cloudflare } = ctx;
  // Only published routes: one whose Access app is not in place yet gets no rule (fail closed),
  // and one in conflict with a foreign record or app is not half published: no rule until it wins.
  const desiredState = readDesiredState(db, ctx.now(), { tunnelId });
  const carried = desiredState.published.filter(
    (r) => r.tunnelId === tunnelId && r.foreignConflicts.length === 0,
  );
  const withheld = desiredState.gatewayWithheld.filter((r) => r.tunnelId === tunnelId);
  const desired = carried.map(desiredIngressRule);
  const wanted = new Set(carried.map(keyOf));
  const owned = listOwnedIngressRules(db, tunnelId).map((r) => ingressKey(r.hostname, r.path || undefined));
  const memo = readTunnelMemo(db, tunnelId);
  // Keys written by a sync that died before recording them are ours (see ingress-intent.ts).
  const ownedKeys = [
    ...new Set([...owned, ...memo.intent.filter((k) => wanted.has(k) && !memo.foreign.includes(k))]),
  ];
  const adding = [...wanted].filter((k) => !ownedKeys.includes(k) && !memo.foreign.includes(k));
  if (adding.length > 0) writeTunnelMemo(db, tunnelId, { ...memo, intent: adding });
  // Adoptions of rules this tunnel no longer wants are dropped with the rest below.
  const adopting = memo.adopting.filter((grant) => wanted.has(grant.key));

  const at = () => ctx.now().toISOString();
  let result: Awaited<ReturnType<typeof cloudflare.syncTunnelIngress>>;
  try {
    result = await cloudflare.syncTunnelIngress({ tunnelId, desired, ownedKeys, adopting });
  } catch (error) {
    if (error instanceof TunnelNotFoundError) {
      // The tunnel is gone (a revoked agent's): nothing on it is ours any more.
      db.transaction(() => {
        replaceOwnedIngressRules(db, tunnelId, [], at());
        writeTunnelMemo(db, tunnelId, { intent: [], foreign: [] });
        for (const route of carried.flatMap(routesOfRule)) {
          ctx.outcomes.record(route, 'ingress', { status: 'error', message: error.message }, at());
        }
      })();
      return;
    }
    const message = (error as Error).message;
    db.transaction(() => {
      for (const route of carried.flatMap(routesOfRule)) {
        ctx.outcomes.record(route, 'ingress', { status: 'error', message }, at());
      }
    })();
    throw error;
  }

  const kept = new Set(result.ownedKeys);
  const dropped = ownedKeys.filter((k) => !kept.has(k));
  db.transaction(() => {
    const now = at();
    replaceOwnedIngressRules(db, tunnelId, result.ownedKeys.map(splitKey), now);
    // Adoptions an admin made while this sync ran are kept for the next one.
    const handled = new Set(memo.adopting.map((grant) => grant.key));
    const later = readTunnelMemo(db, tunnelId).adopting.filter((grant) => !handled.has(grant.key));
    writeTunnelMemo(db, tunnelId, { intent: [], foreign: result.conflicts, adopting: later });
    if (result.adopted.length > 0 || result.staleAdoptions.length > 0) {
      recordAudit(db, {
        actor: 'system',
        action: 'cloudflare.tunnel.ingress.adopt',
        target: tunnelId,
        details: { adopted: result.adopted, changedSinceDiff: result.staleAdoptions },
      });
    }
    if (result.changed) {
      recordAudit(db, {
        actor: 'system',
        action: 'cloudflare.tunnel.ingress.put',
        target: tunnelId,
        details: { version: result.version, rules: result.ownedKeys.length, conflicts: result.conflicts },
      });
    }
    for (const { route, message } of withheld) {
      ctx.outcomes.record(route, 'ingress', { status: 'error', message }, now);
    }
    const rejected = new Map(result.rejected.map((r) => [r.key, r.message]));
    for (const route of carried) {
      const key = keyOf(route);
      const problem = rejected.get(key);
      const record = (outcome: Parameters<typeof ctx.outcomes.record>[2]) => {
        for (const served of routesOfRule(route)) ctx.outcomes.record(served, 'ingress', outcome, now);
      };
      if (problem) {
        record({ status: 'error', message: problem });
      } else if (result.conflicts.includes(key)) {
        const rule = `an ingress rule for ${route.hostname}${route.path ? ` path ${route.path}` : ''}`;
        const message = result.staleAdoptions.includes(key)
          ? `tunnel ${tunnelId} has ${rule} that changed after an admin's diff of it: nothing was adopted; look at it again`
          : `tunnel ${tunnelId} already has ${rule} that Tunnelfleet does not own; it is left untouched`;
        record({ status: 'conflict', message });
      } else {
        record({ status: 'ok' });
      }
    }
  })();
  // An Access app outlives its route's rule until the rule is gone (removal: ingress first).
  const apps = new Set(listOwnedApps(db).map((a) => ingressKey(a.hostname, a.path || undefined)));
  if (dropped.some((k) => apps.has(k))) await ctx.markDirty([ACCESS_TARGET]);
}
