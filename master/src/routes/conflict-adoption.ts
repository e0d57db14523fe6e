import { createHash } from 'node:crypto';
import {
  type AdoptionPreview,
  type IngressRuleFields,
  NotFoundError,
  stableStringify,
} from '@tunnelfleet/common';
import type { MasterHooks } from '../agents/ports.js';
import type { CloudflareLayer } from '../cloudflare/cloudflare-layer.js';
import { ownedCname } from '../cloudflare/dns-adoption.js';
import { ADOPTABLE_TYPES, type CurrentDnsRecord, commentOwner } from '../cloudflare/dns-plan.js';
import { type IngressRule, ingressKey, renderIngressRule, ruleKey } from '../cloudflare/ingress.js';
import { dnsHolders, type PublishedRoute, readDesiredState } from '../reconciler/desired-state.js';
import { readTunnelMemo, writeTunnelMemo } from '../reconciler/ingress-intent.js';
import { desiredIngressRule } from '../reconciler/sync-tunnel.js';
import { findAgent } from '../store/agents.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import { findConflict, openConflictKinds, resolveConflicts } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { addAdoptedRecord, listOwnedIngressRules } from '../store/owned-objects.js';
import { findRoute, type RouteRecord } from '../store/routes.js';
import { type AdoptionRefusal, AdoptionRefusedError, AdoptionStaleError } from './adoption-errors.js';
import { routeTargets, tunnelTarget } from './route-targets.js';

export interface ConflictAdoptionDeps {
  db: SqliteDatabase;
  cloudflare: Pick<CloudflareLayer, 'readDnsName' | 'overwriteDnsRecord' | 'readTunnelIngress'>;
  hooks: Pick<MasterHooks, 'markDirty'>;
  now: () => Date;
}

const fingerprintOf = (seen: unknown) => createHash('sha256').update(stableStringify(seen)).digest('hex');

/** A record's fields as a diff shows them. */
function recordFields(record: CurrentDnsRecord) {
  return {
    type: record.type,
    name: record.name,
    content: record.content ?? null,
    proxied: record.proxied ?? null,
    ttl: record.ttl ?? null,
    comment: record.comment ?? null,
    modifiedOn: record.modified_on ?? null,
  };
}

/** Every field of the foreign records on the name: any change to any of them changes the fingerprint. */
function dnsFingerprint(records: readonly CurrentDnsRecord[]): string {
  return fingerprintOf(
    records.map((r) => ({ id: r.id, ...recordFields(r) })).sort((a, b) => (a.id < b.id ? -1 : 1)),
  );
}

function ruleFields(rule: IngressRule): IngressRuleFields {
  const { hostname, path, service, originRequest, ...other } = rule;
  return {
    hostname: hostname ?? null,
    path: path ?? null,
    service: service ?? null,
    originRequest:
      originRequest && Object.keys(originRequest).length > 0 ? JSON.stringify(originRequest) : null,
    other: Object.keys(other).length > 0 ? JSON.stringify(other) : null,
  };
}

function refuse(reason: AdoptionRefusal, message: string): never {
  throw new AdoptionRefusedError(reason, message);
}

/**
 * An operator settles a conflict with a foreign object by adopting it: a DNS record
 * (`foreign_dns_record`) or an ingress rule (`foreign_ingress_rule`) that Tunnelfleet did not
 * write, in the way of a route's hostname. Two steps: `preview` reads the object afresh and returns
 * it beside what Tunnelfleet would write, with a fingerprint; `adopt` goes ahead only if the object
 * still has that fingerprint. From then on the object is ours: the syncs write the route's desired
 * state over it and delete it with the route.
 *
 * - A record keeps its id and gets our CNAME and ownership comment at once.
 * - A rule carries no mark: the adoption is handed to the tunnel's next sync, which takes the rule
 *   over in its own read-merge-write only if it is still exactly as the diff showed.
 *
 * Agents are untrusted: an object is only ever handed to the route that holds the hostname's claim
 * for its agent (approved, hostname inside its allowlist, the earliest claim), so an agent cannot
 * get one by labelling a container with someone else's hostname. And it fails closed for Access:
 * a route that asks for Access gets nothing before its Access application exists.
 */
export function createConflictAdoption(deps: ConflictAdoptionDeps) {
  const { db } = deps;

  /** The conflict and the route that may take its object; checked again just before writing. */
  function eligible(conflictId: number): {
    route: RouteRecord;
    published: PublishedRoute;
    kind: 'dns' | 'ingress';
  } {
    const conflict = findConflict(db, conflictId);
    if (!conflict) throw new NotFoundError(`no conflict ${conflictId}`);
    if (conflict.kind !== 'foreign_dns_record' && conflict.kind !== 'foreign_ingress_rule') {
      refuse(
        'not_adoptable_kind',
        `conflict ${conflictId} is ${conflict.kind}: only a foreign DNS record or ingress rule in a route's way can be adopted`,
      );
    }
    if (conflict.resolvedAt !== null || conflict.routeId === null) {
      refuse('not_open', `conflict ${conflictId} is resolved: there is nothing to adopt`);
    }
    const kind = conflict.kind === 'foreign_dns_record' ? 'dns' : 'ingress';
    const route = findRoute(db, conflict.routeId);
    const notAccepted = (why: string) =>
      refuse('route_not_accepted', `the object on ${conflict.hostname} cannot be adopted: ${why}`);
    if (!route || route.hostname !== conflict.hostname || route.path !== conflict.path) {
      return notAccepted('its route is gone or moved');
    }
    const agent = findAgent(db, route.agentId);
    if (agent?.status !== 'approved') return notAccepted(`agent ${route.agentId} is not approved`);
    if (openConflictKinds(db, route.id).includes('outside_allowlist')) {
      return notAccepted(`the hostname is outside agent ${route.agentId}'s allowlist`);
    }
    const state = readDesiredState(db, deps.now(), route.zone ? { zone: route.zone } : undefined);
    const carried = state.carried.find((c) => c.route?.id === route.id);
    if (!carried || (kind === 'dns' && dnsHolders(state.carried).get(route.hostname) !== carried)) {
      return notAccepted(`route ${route.id} of agent ${route.agentId} does not hold the hostname's claim`);
    }
    if (carried.foreignConflicts.includes('foreign_access_app')) {
      refuse(
        'access_pending',
        `${route.hostname} also has an Access application Tunnelfleet does not own: the route is published nowhere until that is settled`,
      );
    }
    const published = state.published.find((p) => p.route?.id === route.id);
    if (!published) {
      refuse(
        'access_pending',
        `route ${route.id} asks for Access and its Access application is not in place yet: adopting now would publish it unprotected`,
      );
    }
    if (kind === 'ingress' && carried.foreignConflicts.includes('foreign_dns_record')) {
      refuse(
        'settle_record_first',
        `${route.hostname} also has a DNS record Tunnelfleet does not own: adopt or remove it first`,
      );
    }
    return { route, published, kind };
  }

  async function readRecord(conflictId: number, route: PublishedRoute) {
    const { hostname } = route;
    const name = await deps.cloudflare.readDnsName(hostname, route.spec.zoneLabel);
    const foreign = name.records.filter((r) => commentOwner(r.comment) === undefined);
    const [record] = foreign;
    if (!record) {
      refuse(
        'nothing_foreign',
        `no foreign record is on ${hostname} any more: the next sync publishes the route`,
      );
    }
    if (foreign.length > 1 || !ADOPTABLE_TYPES.has(record.type)) {
      const found = foreign.map((r) => `${r.type} ${r.content ?? ''}`.trim()).join(', ');
      refuse(
        'not_one_object',
        `${hostname} has ${found}: adoption takes exactly one A, AAAA or CNAME record; remove the others at Cloudflare first`,
      );
    }
    const desired = ownedCname(hostname, route.agentId, route.tunnelId);
    return {
      object: 'dns_record' as const,
      zoneId: name.zoneId,
      preview: {
        object: 'dns_record' as const,
        conflictId,
        hostname,
        path: route.path,
        routeId: route.route!.id,
        agentId: route.agentId,
        recordId: record.id,
        current: recordFields(record),
        desired: { ...desired },
        fingerprint: dnsFingerprint(foreign),
      },
    };
  }

  async function readRule(conflictId: number, route: PublishedRoute) {
    const key = ingressKey(route.hostname, route.path || undefined);
    const where = `${route.hostname}${route.path ? ` path ${route.path}` : ''}`;
    if (
      listOwnedIngressRules(db, route.tunnelId).some(
        (r) => ingressKey(r.hostname, r.path || undefined) === key,
      )
    ) {
      refuse('nothing_foreign', `the rule for ${where} is Tunnelfleet's already`);
    }
    const onKey = (await deps.cloudflare.readTunnelIngress(route.tunnelId)).filter((r) => ruleKey(r) === key);
    const [rule] = onKey;
    if (!rule) {
      refuse('nothing_foreign', `no foreign rule is on ${where} any more: the next sync publishes the route`);
    }
    if (onKey.length > 1) {
      refuse(
        'not_one_object',
        `tunnel ${route.tunnelId} has ${onKey.length} rules for ${where} (only the first can ever match): remove the others first`,
      );
    }
    return {
      object: 'ingress_rule' as const,
      key,
      seen: onKey,
      preview: {
        object: 'ingress_rule' as const,
        conflictId,
        hostname: route.hostname,
        path: route.path,
        routeId: route.route!.id,
        agentId: route.agentId,
        tunnelId: route.tunnelId,
        current: ruleFields(rule),
        desired: ruleFields(renderIngressRule(desiredIngressRule(route))),
        fingerprint: fingerprintOf(onKey),
      },
    };
  }

  type Reading = Awaited<ReturnType<typeof readRecord>> | Awaited<ReturnType<typeof readRule>>;

  /** A record is rewritten in place at once (same id): our CNAME and comment. */
  async function overwriteRecord(reading: Extract<Reading, { object: 'dns_record' }>, route: PublishedRoute) {
    const { preview } = reading;
    await deps.cloudflare.overwriteDnsRecord({
      hostname: preview.hostname,
      ...(route.spec.zoneLabel ? { zone: route.spec.zoneLabel } : {}),
      recordId: preview.recordId,
      record: ownedCname(preview.hostname, route.agentId, route.tunnelId),
    });
  }

  /** Then it is ours, and the conflict it made is over. */
  function recordOwned(reading: Extract<Reading, { object: 'dns_record' }>, routeId: number) {
    const at = deps.now().toISOString();
    const { hostname, recordId } = reading.preview;
    addAdoptedRecord(db, reading.zoneId, { hostname, recordId }, at);
    resolveConflicts(db, routeId, at, ['foreign_dns_record']);
  }

  /** A rule: handed to the tunnel's sync, which takes it over in its own read-merge-write if still as seen. */
  function handRuleToSync(reading: Extract<Reading, { object: 'ingress_rule' }>) {
    const { tunnelId } = reading.preview;
    const memo = readTunnelMemo(db, tunnelId);
    const adopting = memo.adopting.filter((grant) => grant.key !== reading.key);
    writeTunnelMemo(db, tunnelId, {
      ...memo,
      adopting: [...adopting, { key: reading.key, seen: reading.seen }],
    });
  }

  return {
    /** The diff an operator confirms: the object now, what would replace it, its fingerprint. */
    async preview(conflictId: number): Promise<AdoptionPreview> {
      const { published, kind } = eligible(conflictId);
      const reading =
        kind === 'dns' ? await readRecord(conflictId, published) : await readRule(conflictId, published);
      return reading.preview;
    },

    /** Adopts the object if it is still the one `fingerprint` describes; audited as `actor`. */
    async adopt(conflictId: number, fingerprint: string, actor: AuditActor) {
      const seen = eligible(conflictId);
      const reading: Reading =
        seen.kind === 'dns'
          ? await readRecord(conflictId, seen.published)
          : await readRule(conflictId, seen.published);
      const { preview } = reading;
      if (preview.fingerprint !== fingerprint) throw new AdoptionStaleError(preview.hostname);
      // The read took a while: the route must still be the one allowed to take the object.
      const { route, published } = eligible(conflictId);
      if (route.id !== preview.routeId || published.tunnelId !== seen.published.tunnelId) {
        throw new AdoptionStaleError(preview.hostname);
      }
      if (reading.object === 'dns_record') await overwriteRecord(reading, published);
      db.transaction(() => {
        if (reading.object === 'dns_record') recordOwned(reading, route.id);
        else handRuleToSync(reading);
        recordAudit(db, {
          actor,
          action: 'conflict.adopt',
          target: preview.hostname,
          details: {
            conflictId,
            object: preview.object,
            routeId: route.id,
            agentId: route.agentId,
            ...(preview.object === 'dns_record'
              ? { recordId: preview.recordId }
              : { tunnelId: preview.tunnelId }),
            before: preview.current,
            after: preview.desired,
          },
        });
      })();
      await deps.hooks.markDirty(
        reading.object === 'dns_record' ? routeTargets(db, route) : [tunnelTarget(reading.preview.tunnelId)],
      );
      return {
        object: preview.object,
        hostname: preview.hostname,
        routeId: route.id,
        state: reading.object === 'dns_record' ? ('done' as const) : ('syncing' as const),
      };
    },
  };
}

export type ConflictAdoption = ReturnType<typeof createConflictAdoption>;
