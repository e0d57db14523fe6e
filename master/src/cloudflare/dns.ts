import type { RecordBatchParams, RecordResponse } from 'cloudflare/resources/dns/records';
import { isRetryable, withRetries } from './call-budget.js';
import { type Credentials, normalizeHostname, type TokenHandle } from './cloudflare-credentials.js';
import {
  type DesiredDnsRecord,
  DNS_COMMENT_PREFIX,
  type DnsHostnameResult,
  type DnsZonePlan,
  indexZone,
  type OwnedDnsRecord,
  planZone,
} from './dns-plan.js';
import { CloudflareLayerError, statusOf, toLayerError } from './errors.js';
import { listAll } from './pagination.js';

export interface DnsSyncInput {
  /** Who the records are for (the agent id): written into the ownership comment. */
  owner: string;
  /** Every record this owner wants (the whole set, not a delta). */
  desired: readonly DesiredDnsRecord[];
  /** Records of this owner that the caller recorded as ours before. */
  owned: readonly OwnedDnsRecord[];
  /** Take over a foreign record on a wanted hostname instead of reporting a conflict. */
  adopt?: boolean;
}

export interface DnsSyncResult {
  hostnames: Record<string, DnsHostnameResult>;
  deleted: OwnedDnsRecord[];
  /** Records of this owner after the sync, to persist for the next one. */
  owned: OwnedDnsRecord[];
}

export interface DnsOptions {
  /** Changes per batch call. Cloudflare allows 200 on Free zones, 3,500 on paid plans. */
  batchLimit?: number;
  /** A zone with more wanted hostnames than this is listed whole instead of name by name. */
  perNameLookupLimit?: number;
}

const COMMENT_MAX = 100;
const LIST_PAGE = 5000;

class InvalidDnsOwnerError extends CloudflareLayerError {
  constructor(owner: string) {
    super(
      'cf_invalid_dns_owner',
      `owner "${owner}" does not fit in a DNS record comment (${COMMENT_MAX} characters)`,
    );
  }
}

export function ownershipComment(owner: string): string {
  const comment = `${DNS_COMMENT_PREFIX}${owner}`;
  if (!owner || /\s/.test(owner) || comment.length > COMMENT_MAX) throw new InvalidDnsOwnerError(owner);
  return comment;
}

/** One owner's part of a zone. */
interface OwnerWork {
  desired: Map<string, DesiredDnsRecord>;
  ownedIds: Set<string>;
}

interface ZoneWork {
  zoneId: string;
  token: TokenHandle;
  /** By index of the owner's input. */
  owners: Map<number, OwnerWork>;
}

/**
 * Keeps the proxied CNAMEs `hostname → <tunnel>.cfargotunnel.com` of one owner in line with
 * what it wants (see `syncDnsOwners`).
 */
export async function syncDnsRecords(
  creds: Credentials,
  input: DnsSyncInput,
  options: DnsOptions = {},
): Promise<DnsSyncResult> {
  const [result] = await syncDnsOwners(creds, [input], options);
  return result!;
}

class DnsNameOutOfScopeError extends CloudflareLayerError {
  constructor(hostname: string) {
    super('cf_dns_name_out_of_scope', `${hostname} is wanted by a sync limited to other names`);
  }
}

/**
 * Keeps the CNAMEs of several owners in line with what each wants, with the fewest calls: per
 * zone, one read shared by every owner (our records by comment plus the wanted names, or the
 * whole zone when many are wanted), then every owner's changes together in `dns_records/batch`
 * calls. A zone where a thousand agents have records costs a read and a batch, not a thousand
 * of each. What to change is `planZone`'s decision per owner (ownership rules there); this only
 * reads, writes and retries. The owners' wanted hostnames must differ (the reconciler gives each
 * hostname one holder).
 *
 * With `names`, the sync is limited to those hostnames (the ones a change touched): records on
 * other names are neither read nor changed, so `desired` and `owned` then hold only names of it.
 * A change in a zone of thousands of records costs its names, not the zone.
 */
export async function syncDnsOwners(
  creds: Credentials,
  inputs: readonly DnsSyncInput[],
  options: DnsOptions = {},
  names?: ReadonlySet<string>,
): Promise<DnsSyncResult[]> {
  const scope = names && new Set([...names].map(normalizeHostname));
  for (const input of inputs) {
    for (const { hostname } of [...input.desired, ...input.owned]) {
      if (scope && !scope.has(normalizeHostname(hostname))) throw new DnsNameOutOfScopeError(hostname);
    }
  }
  const comments = inputs.map((input) => ownershipComment(input.owner));
  const results: DnsSyncResult[] = inputs.map(() => ({ hostnames: {}, deleted: [], owned: [] }));
  const zones = new Map<string, ZoneWork>();
  const zoneOf = async (index: number, hostname: string, zone?: string) => {
    const resolved = await creds.resolveZone(hostname, zone);
    let work = zones.get(resolved.zoneId);
    if (!work) {
      work = { zoneId: resolved.zoneId, token: resolved.token, owners: new Map() };
      zones.set(resolved.zoneId, work);
    }
    let owner = work.owners.get(index);
    if (!owner) {
      owner = { desired: new Map(), ownedIds: new Set() };
      work.owners.set(index, owner);
    }
    return owner;
  };

  // Wanted hostnames whose zone failed to resolve: their current records must not be deleted.
  const unsynced = inputs.map(() => new Set<string>());
  for (const [index, input] of inputs.entries()) {
    for (const record of input.desired) {
      const hostname = normalizeHostname(record.hostname);
      try {
        (await zoneOf(index, hostname, record.zone)).desired.set(hostname, { ...record, hostname });
      } catch (err) {
        results[index]!.hostnames[hostname] = { status: 'error', message: (err as Error).message };
        unsynced[index]!.add(hostname);
      }
    }
    for (const record of input.owned) {
      try {
        (await zoneOf(index, record.hostname)).ownedIds.add(record.recordId);
      } catch {
        // Its zone is gone from the token's view: nothing we can delete; keep it for a later sync.
        results[index]!.owned.push(record);
      }
    }
  }

  await Promise.all(
    [...zones.values()].map(async (work) => {
      try {
        const outcome = await syncZone(work);
        for (const [index, part] of outcome) {
          const result = results[index]!;
          Object.assign(result.hostnames, Object.fromEntries(part.results));
          result.deleted.push(...part.deleted);
          result.owned.push(...part.owned);
        }
      } catch (err) {
        const error = toLayerError(err, work.token.name, `sync DNS records of zone ${work.zoneId}`);
        for (const [index, owner] of work.owners) {
          const result = results[index]!;
          for (const hostname of owner.desired.keys()) {
            result.hostnames[hostname] = { status: 'error', message: error.message };
          }
          // Nothing is known to be deleted: keep what we owned in this zone.
          result.owned.push(...inputs[index]!.owned.filter((o) => owner.ownedIds.has(o.recordId)));
        }
      }
    }),
  );
  return results;

  async function syncZone(work: ZoneWork) {
    // Each attempt re-reads the zone, so a batch whose reply was lost is seen as done, not redone.
    return withRetries(async () => {
      const records = await readZone(work, options);
      const zoneIndex = indexZone(records);
      const plans = new Map(
        [...work.owners].map(([index, owner]) => [
          index,
          planZone({
            owner: inputs[index]!.owner,
            comment: comments[index]!,
            desired: owner.desired,
            current: records,
            ownedIds: owner.ownedIds,
            unsynced: unsynced[index]!,
            adopt: inputs[index]!.adopt ?? false,
            index: zoneIndex,
          }),
        ]),
      );
      const applied = await applyPlan(work, mergePlans([...plans.values()]), options.batchLimit ?? 200);
      return new Map(
        [...plans].map(([index, plan]) => {
          const wanted = work.owners.get(index)!.desired;
          const deletes = new Set(plan.deletes.map((d) => d.id));
          // By the owner's wanted names, not a pass over the zone's results per owner.
          const results = new Map(
            [...wanted.keys()].flatMap((hostname) => {
              const result = applied.results.get(hostname);
              return result ? [[hostname, result] as const] : [];
            }),
          );
          const owned = [...results]
            .filter(([, r]) => r.recordId && (r.status === 'ok' || r.status === 'adopted'))
            .map(([hostname, r]) => ({ hostname, recordId: r.recordId! }))
            .concat(plan.kept);
          return [index, { results, deleted: applied.deleted.filter((d) => deletes.has(d.recordId)), owned }];
        }),
      );
    }, creds.retry);
  }

  async function readZone(work: ZoneWork, options: DnsOptions): Promise<RecordResponse[]> {
    const records = work.token.client.dns.records;
    const zone_id = work.zoneId;
    const limit = options.perNameLookupLimit ?? 3;
    const byName = (hostname: string) =>
      listAll(() => records.list({ zone_id, name: { exact: hostname }, per_page: 100 }), creds.retry);
    if (scope) {
      // Only the names of the change count: records elsewhere in the zone stay out of the plan.
      if (scope.size <= limit) return (await Promise.all([...scope].map(byName))).flat();
      const zone = await listAll(() => records.list({ zone_id, per_page: LIST_PAGE }), creds.retry);
      return zone.filter((record) => scope.has(normalizeHostname(record.name)));
    }
    const wanted = [...work.owners.values()].flatMap((owner) => [...owner.desired.keys()]);
    if (wanted.length > limit) {
      return listAll(() => records.list({ zone_id, per_page: LIST_PAGE }), creds.retry);
    }
    const ours = await listAll(
      () => records.list({ zone_id, comment: { startswith: DNS_COMMENT_PREFIX }, per_page: LIST_PAGE }),
      creds.retry,
    );
    const known = new Set(ours.map((r) => normalizeHostname(r.name)));
    const others = await Promise.all(wanted.filter((hostname) => !known.has(hostname)).map(byName));
    return [...ours, ...others.flat()];
  }

  async function applyPlan(work: ZoneWork, plan: DnsZonePlan, batchLimit: number) {
    const results = new Map(plan.results);
    // Cloudflare runs a batch as deletes, patches, puts, posts: chunks keep that order.
    const ops = [
      ...plan.deletes.map((op) => ({ kind: 'deletes' as const, op })),
      ...plan.patches.map((op) => ({ kind: 'patches' as const, op })),
      ...plan.puts.map((op) => ({ kind: 'puts' as const, op })),
      ...plan.posts.map((op) => ({ kind: 'posts' as const, op })),
    ];
    const deleted: OwnedDnsRecord[] = [];
    for (let start = 0; start < ops.length; start += batchLimit) {
      const chunk = ops.slice(start, start + batchLimit);
      const params: RecordBatchParams = { zone_id: work.zoneId };
      const deletes = chunk.flatMap((c) => (c.kind === 'deletes' ? [c.op] : []));
      const patches = chunk.flatMap((c) => (c.kind === 'patches' ? [c.op] : []));
      const puts = chunk.flatMap((c) => (c.kind === 'puts' ? [c.op] : []));
      const posts = chunk.flatMap((c) => (c.kind === 'posts' ? [c.op] : []));
      if (deletes.length) params.deletes = deletes.map((d) => ({ id: d.id }));
      if (patches.length) params.patches = patches.map((p) => ({ id: p.id, ...p.record }));
      if (puts.length) params.puts = puts.map((p) => ({ id: p.id, ...p.record }));
      if (posts.length) params.posts = posts.map((p) => p.record);
      try {
        const reply = await work.token.client.dns.records.batch(params);
        deleted.push(...deletes.map((d) => ({ hostname: d.hostname, recordId: d.id })));
        (reply.posts ?? []).forEach((record, i) => {
          const hostname = posts[i]?.hostname;
          if (hostname) results.set(hostname, { status: 'ok', recordId: record.id });
        });
      } catch (err) {
        // Retryable: the whole zone is re-read and re-planned. A refused batch (4xx) rolled back
        // entirely, so its changes are sent one by one to pin the error on its hostname.
        if (isRetryable(err) || statusOf(err) === undefined) throw err;
        deleted.push(...(await applySingly(work, { deletes, patches, puts, posts }, results)));
      }
    }
    return { results, deleted };
  }

  async function applySingly(
    work: ZoneWork,
    ops: Pick<DnsZonePlan, 'deletes' | 'patches' | 'puts' | 'posts'>,
    results: Map<string, DnsHostnameResult>,
  ): Promise<OwnedDnsRecord[]> {
    const api = work.token.client.dns.records;
    const zone_id = work.zoneId;
    const fail = (hostname: string, err: unknown) =>
      results.set(hostname, {
        status: 'error',
        message: toLayerError(err, work.token.name, `write ${hostname}`).message,
      });
    const deleted: OwnedDnsRecord[] = [];
    for (const d of ops.deletes) {
      try {
        await api.delete(d.id, { zone_id });
        deleted.push({ hostname: d.hostname, recordId: d.id });
      } catch (err) {
        if (statusOf(err) === 404) deleted.push({ hostname: d.hostname, recordId: d.id });
      }
    }
    for (const p of [...ops.patches, ...ops.puts]) {
      try {
        await api.update(p.id, { zone_id, ...p.record });
      } catch (err) {
        fail(p.hostname, err);
      }
    }
    for (const p of ops.posts) {
      try {
        const record = await api.create({ zone_id, ...p.record });
        results.set(p.hostname, { status: 'ok', recordId: record.id });
      } catch (err) {
        fail(p.hostname, err);
      }
    }
    return deleted;
  }
}

/**
 * The owners' plans of one zone as one. A record one owner takes over (a route that moved
 * agent) is not also deleted by its former owner's plan: the batch would refuse both.
 */
function mergePlans(plans: readonly DnsZonePlan[]): DnsZonePlan {
  const rewritten = new Set(plans.flatMap((p) => [...p.patches, ...p.puts].map((op) => op.id)));
  const deletes = new Map<string, DnsZonePlan['deletes'][number]>();
  for (const plan of plans) for (const d of plan.deletes) if (!rewritten.has(d.id)) deletes.set(d.id, d);
  return {
    deletes: [...deletes.values()],
    patches: plans.flatMap((p) => p.patches),
    puts: plans.flatMap((p) => p.puts),
    posts: plans.flatMap((p) => p.posts),
    results: new Map(plans.flatMap((p) => [...p.results])),
    kept: plans.flatMap((p) => p.kept),
  };
}
