import type { RecordBatchParams, RecordResponse } from 'cloudflare/resources/dns/records';
import { isRetryable, withRetries } from './call-budget.js';
import { type Credentials, normalizeHostname, type TokenHandle } from './cloudflare-credentials.js';
import {
  type DesiredDnsRecord,
  DNS_COMMENT_PREFIX,
  type DnsHostnameResult,
  type DnsZonePlan,
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

function ownershipComment(owner: string): string {
  const comment = `${DNS_COMMENT_PREFIX}${owner}`;
  if (!owner || /\s/.test(owner) || comment.length > COMMENT_MAX) throw new InvalidDnsOwnerError(owner);
  return comment;
}

interface ZoneWork {
  zoneId: string;
  token: TokenHandle;
  desired: Map<string, DesiredDnsRecord>;
  ownedIds: Set<string>;
}

/**
 * Keeps the proxied CNAMEs `hostname → <tunnel>.cfargotunnel.com` of one owner in line with
 * what it wants, with the fewest calls: per zone, one read of our records (by comment) plus the
 * wanted names, then all changes in `dns_records/batch` calls. What to change is `planZone`'s
 * decision (ownership rules there); this only reads, writes and retries.
 */
export async function syncDnsRecords(
  creds: Credentials,
  input: DnsSyncInput,
  options: DnsOptions = {},
): Promise<DnsSyncResult> {
  const comment = ownershipComment(input.owner);
  const hostnames: Record<string, DnsHostnameResult> = {};
  const zones = new Map<string, ZoneWork>();
  const zoneOf = async (hostname: string, zone?: string) => {
    const resolved = await creds.resolveZone(hostname, zone);
    let work = zones.get(resolved.zoneId);
    if (!work) {
      work = { zoneId: resolved.zoneId, token: resolved.token, desired: new Map(), ownedIds: new Set() };
      zones.set(resolved.zoneId, work);
    }
    return work;
  };

  // Wanted hostnames whose zone failed to resolve: their current records must not be deleted.
  const unsynced = new Set<string>();
  for (const record of input.desired) {
    const hostname = normalizeHostname(record.hostname);
    try {
      (await zoneOf(hostname, record.zone)).desired.set(hostname, { ...record, hostname });
    } catch (err) {
      hostnames[hostname] = { status: 'error', message: (err as Error).message };
      unsynced.add(hostname);
    }
  }
  const unresolvedOwned: OwnedDnsRecord[] = [];
  for (const record of input.owned) {
    try {
      (await zoneOf(record.hostname)).ownedIds.add(record.recordId);
    } catch {
      // Its zone is gone from the token's view: nothing we can delete; keep it for a later sync.
      unresolvedOwned.push(record);
    }
  }

  const deleted: OwnedDnsRecord[] = [];
  const owned: OwnedDnsRecord[] = [...unresolvedOwned];
  await Promise.all(
    [...zones.values()].map(async (work) => {
      try {
        const outcome = await syncZone(work, input, comment, options);
        Object.assign(hostnames, Object.fromEntries(outcome.results));
        deleted.push(...outcome.deleted);
        owned.push(...outcome.owned);
      } catch (err) {
        const error = toLayerError(err, work.token.name, `sync DNS records of zone ${work.zoneId}`);
        for (const hostname of work.desired.keys())
          hostnames[hostname] = { status: 'error', message: error.message };
        // Nothing is known to be deleted: keep what we owned in this zone.
        owned.push(...input.owned.filter((o) => work.ownedIds.has(o.recordId)));
      }
    }),
  );
  return { hostnames, deleted, owned };

  async function syncZone(work: ZoneWork, input: DnsSyncInput, comment: string, options: DnsOptions) {
    // Each attempt re-reads the zone, so a batch whose reply was lost is seen as done, not redone.
    return withRetries(async () => {
      const records = await readZone(work, options);
      const plan = planZone({
        owner: input.owner,
        comment,
        desired: work.desired,
        current: records,
        ownedIds: work.ownedIds,
        unsynced,
        adopt: input.adopt ?? false,
      });
      return applyPlan(work, plan, options.batchLimit ?? 200);
    }, creds.retry);
  }

  async function readZone(work: ZoneWork, options: DnsOptions): Promise<RecordResponse[]> {
    const records = work.token.client.dns.records;
    const zone_id = work.zoneId;
    if (work.desired.size > (options.perNameLookupLimit ?? 3)) {
      return listAll(() => records.list({ zone_id, per_page: LIST_PAGE }), creds.retry);
    }
    const ours = await listAll(
      () => records.list({ zone_id, comment: { startswith: DNS_COMMENT_PREFIX }, per_page: LIST_PAGE }),
      creds.retry,
    );
    const known = new Set(ours.map((r) => normalizeHostname(r.name)));
    const others = await Promise.all(
      [...work.desired.keys()]
        .filter((hostname) => !known.has(hostname))
        .map((hostname) =>
          listAll(() => records.list({ zone_id, name: { exact: hostname }, per_page: 100 }), creds.retry),
        ),
    );
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
    const owned = [...results]
      .filter(([, r]) => r.recordId && (r.status === 'ok' || r.status === 'adopted'))
      .map(([hostname, r]) => ({ hostname, recordId: r.recordId! }))
      .concat(plan.kept);
    return { results, deleted, owned };
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
