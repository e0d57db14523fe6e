import type { RecordBatchParams, RecordResponse } from 'cloudflare/resources/dns/records';
import { isRetryable, withRetries } from './call-budget.js';
import { type Credentials, normalizeHostname, type TokenHandle } from './cloudflare-credentials.js';
import { CloudflareLayerError, statusOf, toLayerError } from './errors.js';
import { listAll } from './pagination.js';

export interface DesiredDnsRecord {
  hostname: string;
  tunnelId: string;
  /** Zone named by the route's label, when it names one. */
  zone?: string;
}

export interface OwnedDnsRecord {
  hostname: string;
  recordId: string;
}

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

export type DnsRecordStatus = 'ok' | 'conflict' | 'adopted' | 'error';

export interface DnsHostnameResult {
  status: DnsRecordStatus;
  recordId?: string;
  message?: string;
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

export const DNS_COMMENT_PREFIX = 'managed by tunnelfleet; agent=';
const COMMENT_MAX = 100;
const OWNER_RE = /^managed by tunnelfleet; agent=(\S+)/i;
const LIST_PAGE = 5000;

export class InvalidDnsOwnerError extends CloudflareLayerError {
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

/** Owner written in a record's comment, if Tunnelfleet wrote it. */
export function commentOwner(comment: string | null | undefined): string | undefined {
  return comment ? OWNER_RE.exec(comment)?.[1] : undefined;
}

const tunnelTarget = (tunnelId: string) => `${tunnelId}.cfargotunnel.com`;

interface Plan {
  deletes: { id: string; hostname: string }[];
  patches: { id: string; hostname: string; adopted: boolean }[];
  puts: { id: string; hostname: string; adopted: boolean }[];
  posts: { hostname: string }[];
  results: Map<string, DnsHostnameResult>;
  /** Our records left alone because their hostname could not be synced this time. */
  kept: OwnedDnsRecord[];
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
 * wanted names, then all changes in `dns_records/batch` calls.
 *
 * Ownership: a record is ours when its comment carries our marker. Records of this owner that
 * no desired hostname needs are deleted; a marked record of another owner is only touched when
 * this owner wants its hostname (the route moved), or deleted when its id is in `owned`.
 * A record without the marker is never changed unless `adopt` is set.
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
      const plan = planZone(work, records, input, comment);
      const applied = await applyPlan(work, plan, comment, options.batchLimit ?? 200);
      return applied;
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

  function planZone(work: ZoneWork, records: RecordResponse[], input: DnsSyncInput, comment: string): Plan {
    const plan: Plan = { deletes: [], patches: [], puts: [], posts: [], results: new Map(), kept: [] };
    const byName = new Map<string, RecordResponse[]>();
    for (const record of records) {
      const name = normalizeHostname(record.name);
      const list = byName.get(name) ?? [];
      if (!list.some((r) => r.id === record.id)) list.push(record);
      byName.set(name, list);
    }

    for (const [name, list] of byName) {
      if (work.desired.has(name)) continue;
      for (const record of list) {
        const recordOwner = commentOwner(record.comment);
        if (recordOwner === input.owner || (recordOwner && work.ownedIds.has(record.id))) {
          if (unsynced.has(name)) plan.kept.push({ hostname: name, recordId: record.id });
          else plan.deletes.push({ id: record.id, hostname: name });
        }
      }
    }

    for (const [hostname, want] of work.desired) {
      const list = byName.get(hostname) ?? [];
      const marked = list.filter((r) => commentOwner(r.comment) !== undefined);
      const foreign = list.filter((r) => commentOwner(r.comment) === undefined);
      const [ours, ...extra] = marked;
      for (const record of extra) plan.deletes.push({ id: record.id, hostname });
      if (ours) {
        if (!matches(ours, want, comment)) {
          if (ours.type === 'CNAME') plan.patches.push({ id: ours.id, hostname, adopted: false });
          else plan.puts.push({ id: ours.id, hostname, adopted: false });
        }
        plan.results.set(hostname, { status: 'ok', recordId: ours.id });
      } else if (foreign.length === 0) {
        plan.posts.push({ hostname });
      } else if (input.adopt && foreign.length === 1 && ['A', 'AAAA', 'CNAME'].includes(foreign[0]!.type)) {
        plan.puts.push({ id: foreign[0]!.id, hostname, adopted: true });
        plan.results.set(hostname, { status: 'adopted', recordId: foreign[0]!.id });
      } else {
        const existing = foreign.map((r) => `${r.type} ${r.content ?? ''}`.trim()).join(', ');
        plan.results.set(hostname, {
          status: 'conflict',
          message: `${hostname} already has a record Tunnelfleet does not own (${existing})${
            input.adopt ? '; adoption needs exactly one A, AAAA or CNAME record' : ''
          }`,
        });
      }
    }
    return plan;
  }

  function matches(record: RecordResponse, want: DesiredDnsRecord, comment: string): boolean {
    return (
      record.type === 'CNAME' &&
      normalizeHostname(record.content ?? '') === tunnelTarget(want.tunnelId) &&
      record.proxied === true &&
      record.ttl === 1 &&
      record.comment === comment
    );
  }

  async function applyPlan(work: ZoneWork, plan: Plan, comment: string, batchLimit: number) {
    const body = (hostname: string) => ({
      name: hostname,
      type: 'CNAME' as const,
      content: tunnelTarget(work.desired.get(hostname)!.tunnelId),
      proxied: true,
      ttl: 1 as const,
      comment,
    });
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
      if (patches.length) params.patches = patches.map((p) => ({ id: p.id, ...body(p.hostname) }));
      if (puts.length) params.puts = puts.map((p) => ({ id: p.id, ...body(p.hostname) }));
      if (posts.length) params.posts = posts.map((p) => body(p.hostname));
      try {
        const reply = await work.token.client.dns.records.batch(params);
        deleted.push(...deletes.map((d) => ({ hostname: d.hostname, recordId: d.id })));
        (reply.posts ?? []).forEach((record, i) => {
          const hostname = posts[i]?.hostname;
          if (hostname) plan.results.set(hostname, { status: 'ok', recordId: record.id });
        });
      } catch (err) {
        // Retryable: the whole zone is re-read and re-planned. A refused batch (4xx) rolled back
        // entirely, so its changes are sent one by one to pin the error on its hostname.
        if (isRetryable(err) || statusOf(err) === undefined) throw err;
        deleted.push(...(await applySingly(work, { deletes, patches, puts, posts }, body, plan)));
      }
    }
    const owned = [...plan.results]
      .filter(([, r]) => r.recordId && (r.status === 'ok' || r.status === 'adopted'))
      .map(([hostname, r]) => ({ hostname, recordId: r.recordId! }))
      .concat(plan.kept);
    return { results: plan.results, deleted, owned };
  }

  async function applySingly(
    work: ZoneWork,
    ops: Pick<Plan, 'deletes' | 'patches' | 'puts' | 'posts'>,
    body: (hostname: string) => {
      name: string;
      type: 'CNAME';
      content: string;
      proxied: boolean;
      ttl: 1;
      comment: string;
    },
    plan: Plan,
  ): Promise<OwnedDnsRecord[]> {
    const api = work.token.client.dns.records;
    const zone_id = work.zoneId;
    const fail = (hostname: string, err: unknown) =>
      plan.results.set(hostname, {
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
        await api.update(p.id, { zone_id, ...body(p.hostname) });
      } catch (err) {
        fail(p.hostname, err);
      }
    }
    for (const p of ops.posts) {
      try {
        const record = await api.create({ zone_id, ...body(p.hostname) });
        plan.results.set(p.hostname, { status: 'ok', recordId: record.id });
      } catch (err) {
        fail(p.hostname, err);
      }
    }
    return deleted;
  }
}
