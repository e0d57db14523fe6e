import { createHash } from 'node:crypto';
import { type AdoptionPreview, NotFoundError, stableStringify } from '@tunnelfleet/common';
import type { MasterHooks } from '../agents/ports.js';
import type { CloudflareLayer } from '../cloudflare/cloudflare-layer.js';
import { ownedCname } from '../cloudflare/dns-adoption.js';
import { ADOPTABLE_TYPES, type CurrentDnsRecord, commentOwner } from '../cloudflare/dns-plan.js';
import { type CarriedRoute, dnsHolders, readDesiredState } from '../reconciler/desired-state.js';
import { findAgent } from '../store/agents.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import { findConflict, openConflictKinds, resolveConflicts } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { addAdoptedRecord } from '../store/owned-objects.js';
import { findRoute } from '../store/routes.js';
import { AdoptionRefusedError, AdoptionStaleError } from './adoption-errors.js';
import { routeTargets } from './route-targets.js';

export interface ForeignRecordAdoptionDeps {
  db: SqliteDatabase;
  cloudflare: Pick<CloudflareLayer, 'readDnsName' | 'overwriteDnsRecord'>;
  hooks: Pick<MasterHooks, 'markDirty'>;
  now: () => Date;
}

/** What the operator saw: the preview, plus where the record lives. */
interface Reading {
  preview: AdoptionPreview;
  zoneId: string;
  zoneLabel: string | undefined;
}

/** Every field of the foreign records on the name: any change to any of them changes it. */
function fingerprintOf(records: readonly CurrentDnsRecord[]): string {
  const seen = records
    .map((r) => ({
      id: r.id,
      type: r.type,
      name: r.name,
      content: r.content ?? null,
      proxied: r.proxied ?? null,
      ttl: r.ttl ?? null,
      comment: r.comment ?? null,
      modifiedOn: r.modified_on ?? null,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  return createHash('sha256').update(stableStringify(seen)).digest('hex');
}

/**
 * An operator settles a `foreign_dns_record` conflict by adopting the record in the route's way:
 * the record keeps its id and gets our CNAME and ownership comment, so from then on the zone's
 * syncs keep it as the route's agent's. Two steps: `preview` reads the record afresh and returns
 * it beside what we would write, with a fingerprint; `adopt` writes only if the record still has
 * that fingerprint.
 *
 * Agents are untrusted: a record is only ever handed to the route that holds the hostname's claim
 * for its agent (approved, hostname inside its allowlist, the earliest claim), so an agent cannot
 * get a record by labelling a container with someone else's hostname. And it fails closed for
 * Access: a route that asks for Access gets its record only once its Access application exists.
 */
export function createForeignRecordAdoption(deps: ForeignRecordAdoptionDeps) {
  const { db } = deps;

  function refuse(reason: ConstructorParameters<typeof AdoptionRefusedError>[0], message: string): never {
    throw new AdoptionRefusedError(reason, message);
  }

  /** The conflict, and the route that may take the record; checked again just before writing. */
  function eligible(conflictId: number) {
    const conflict = findConflict(db, conflictId);
    if (!conflict) throw new NotFoundError(`no conflict ${conflictId}`);
    if (conflict.kind !== 'foreign_dns_record') {
      refuse(
        'not_adoptable_kind',
        `conflict ${conflictId} is ${conflict.kind}: only a foreign DNS record in a route's way can be adopted`,
      );
    }
    if (conflict.resolvedAt !== null || conflict.routeId === null) {
      refuse('not_open', `conflict ${conflictId} is resolved: there is nothing to adopt`);
    }
    const route = findRoute(db, conflict.routeId);
    const notAccepted = (why: string) =>
      refuse('route_not_accepted', `the record on ${conflict.hostname} cannot be adopted: ${why}`);
    if (!route || route.hostname !== conflict.hostname) return notAccepted('its route is gone or moved');
    const agent = findAgent(db, route.agentId);
    if (agent?.status !== 'approved') return notAccepted(`agent ${route.agentId} is not approved`);
    if (openConflictKinds(db, route.id).includes('outside_allowlist')) {
      return notAccepted(`the hostname is outside agent ${route.agentId}'s allowlist`);
    }
    const state = readDesiredState(db, deps.now(), route.zone ? { zone: route.zone } : undefined);
    const carried = state.carried.find((c) => c.route?.id === route.id);
    if (!carried || dnsHolders(state.carried).get(route.hostname) !== carried) {
      return notAccepted(`route ${route.id} of agent ${route.agentId} does not hold the hostname's claim`);
    }
    if (carried.foreignConflicts.includes('foreign_access_app')) {
      refuse(
        'access_pending',
        `${route.hostname} also has an Access application Tunnelfleet does not own: the route is published nowhere until that is settled`,
      );
    }
    if (!state.published.some((p) => p.route?.id === route.id)) {
      refuse(
        'access_pending',
        `route ${route.id} asks for Access and its Access application is not in place yet: adopting now would publish it unprotected`,
      );
    }
    return { conflict, route, holder: carried };
  }

  async function read(conflictId: number, holder: CarriedRoute): Promise<Reading> {
    const hostname = holder.hostname;
    const zoneLabel = holder.spec.zoneLabel;
    const name = await deps.cloudflare.readDnsName(hostname, zoneLabel);
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
        'not_one_record',
        `${hostname} has ${found}: adoption takes exactly one A, AAAA or CNAME record; remove the others at Cloudflare first`,
      );
    }
    const desired = ownedCname(hostname, holder.agentId, holder.tunnelId);
    return {
      zoneId: name.zoneId,
      zoneLabel,
      preview: {
        conflictId,
        hostname,
        routeId: holder.route!.id,
        agentId: holder.agentId,
        recordId: record.id,
        current: {
          type: record.type,
          name: record.name,
          content: record.content ?? null,
          proxied: record.proxied ?? null,
          ttl: record.ttl ?? null,
          comment: record.comment ?? null,
          modifiedOn: record.modified_on ?? null,
        },
        desired: { ...desired },
        fingerprint: fingerprintOf(foreign),
      },
    };
  }

  return {
    /** The diff an operator confirms: the record now, what would replace it, its fingerprint. */
    async preview(conflictId: number): Promise<AdoptionPreview> {
      const { holder } = eligible(conflictId);
      return (await read(conflictId, holder)).preview;
    },

    /** Adopts the record if it is still the one `fingerprint` describes; audited as `actor`. */
    async adopt(
      conflictId: number,
      fingerprint: string,
      actor: AuditActor,
    ): Promise<{ hostname: string; recordId: string; routeId: number }> {
      const { holder } = eligible(conflictId);
      const reading = await read(conflictId, holder);
      if (reading.preview.fingerprint !== fingerprint) throw new AdoptionStaleError(holder.hostname);
      // The read took a while: the route must still be the one allowed to take the record.
      const { route } = eligible(conflictId);
      if (route.id !== reading.preview.routeId) throw new AdoptionStaleError(holder.hostname);
      const { preview } = reading;
      await deps.cloudflare.overwriteDnsRecord({
        hostname: preview.hostname,
        ...(reading.zoneLabel ? { zone: reading.zoneLabel } : {}),
        recordId: preview.recordId,
        record: ownedCname(preview.hostname, holder.agentId, holder.tunnelId),
      });
      db.transaction(() => {
        const at = deps.now().toISOString();
        addAdoptedRecord(db, reading.zoneId, { hostname: preview.hostname, recordId: preview.recordId }, at);
        resolveConflicts(db, route.id, at, ['foreign_dns_record']);
        recordAudit(db, {
          actor,
          action: 'conflict.adopt',
          target: preview.hostname,
          details: {
            conflictId,
            routeId: route.id,
            agentId: route.agentId,
            recordId: preview.recordId,
            before: preview.current,
            after: preview.desired,
          },
        });
      })();
      await deps.hooks.markDirty(routeTargets(db, route));
      return { hostname: preview.hostname, recordId: preview.recordId, routeId: route.id };
    },
  };
}

export type ForeignRecordAdoption = ReturnType<typeof createForeignRecordAdoption>;
