import { normalizeHostname } from './cloudflare-credentials.js';

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

type DnsRecordStatus = 'ok' | 'conflict' | 'adopted' | 'error';

export interface DnsHostnameResult {
  status: DnsRecordStatus;
  recordId?: string;
  message?: string;
}

/** A record as read from the zone: the fields the plan looks at (the SDK's records fit it). */
export interface CurrentDnsRecord {
  id: string;
  name: string;
  type: string;
  content?: string | null;
  proxied?: boolean;
  ttl?: number;
  comment?: string | null;
  modified_on?: string;
}

/** What every record we write looks like: a proxied CNAME to the tunnel, with our comment. */
export interface TunnelCname {
  name: string;
  type: 'CNAME';
  content: string;
  proxied: true;
  ttl: 1;
  comment: string;
}

/** The calls to make in one zone, and what each wanted hostname ends up as if they succeed. */
export interface DnsZonePlan {
  deletes: { id: string; hostname: string }[];
  /** Our CNAME, rewritten in place. */
  patches: { id: string; hostname: string; record: TunnelCname }[];
  /** A record of another type (ours, or adopted) replaced by our CNAME. */
  puts: { id: string; hostname: string; record: TunnelCname }[];
  posts: { hostname: string; record: TunnelCname }[];
  /** Per wanted hostname; a posted one gets its record id once the call answers. */
  results: Map<string, DnsHostnameResult>;
  /** Our records left alone because their hostname could not be synced this time. */
  kept: OwnedDnsRecord[];
}

export interface DnsZonePlanInput {
  /** The owner (agent id) syncing now. */
  owner: string;
  /** Its ownership comment (`ownershipComment(owner)`). */
  comment: string;
  /** What the owner wants in this zone, by normalized hostname. */
  desired: ReadonlyMap<string, DesiredDnsRecord>;
  /** The zone's records that matter: every marked one, and any on a wanted hostname. */
  current: readonly CurrentDnsRecord[];
  /** Ids of records the caller recorded as this owner's before (a route that moved agent). */
  ownedIds: ReadonlySet<string>;
  /** Hostnames the owner wants but whose zone could not be resolved: never delete their records. */
  unsynced: ReadonlySet<string>;
  /** Take over a lone foreign A, AAAA or CNAME on a wanted hostname instead of reporting a conflict. */
  adopt: boolean;
  /**
   * `indexZone(current)`, when the caller plans several owners against the same read: each plan
   * then looks only at its own records and wanted names, not at the whole zone again (a zone of
   * 2,000 records and 100 owners was 200,000 record visits per sync, every one on the event loop).
   */
  index?: ZoneIndex;
}

interface IndexedRecord {
  record: CurrentDnsRecord;
  name: string;
  owner: string | undefined;
  /** Position in the read, and of its name's first record: plans keep the zone's order. */
  position: number;
  namePosition: number;
}

/** The records of one zone read, by normalized name, by marked owner and by id. */
export interface ZoneIndex {
  byName: ReadonlyMap<string, readonly IndexedRecord[]>;
  byOwner: ReadonlyMap<string, readonly IndexedRecord[]>;
  byId: ReadonlyMap<string, readonly IndexedRecord[]>;
}

export function indexZone(current: readonly CurrentDnsRecord[]): ZoneIndex {
  const byName = new Map<string, IndexedRecord[]>();
  const byOwner = new Map<string, IndexedRecord[]>();
  const byId = new Map<string, IndexedRecord[]>();
  const add = <K>(map: Map<K, IndexedRecord[]>, key: K, entry: IndexedRecord) => {
    const list = map.get(key);
    if (list) list.push(entry);
    else map.set(key, [entry]);
  };
  current.forEach((record, position) => {
    const name = normalizeHostname(record.name);
    // A record listed twice (pages that shifted under the read) counts once per name.
    if (byName.get(name)?.some((other) => other.record.id === record.id)) return;
    const namePosition = byName.get(name)?.[0]?.position ?? position;
    const entry = { record, name, owner: commentOwner(record.comment), position, namePosition };
    add(byName, name, entry);
    if (entry.owner !== undefined) add(byOwner, entry.owner, entry);
    add(byId, record.id, entry);
  });
  return { byName, byOwner, byId };
}

export const DNS_COMMENT_PREFIX = 'managed by tunnelfleet; agent=';
const OWNER_RE = /^managed by tunnelfleet; agent=(\S+)/i;
/** The foreign records an operator or `adopt` may take over: one of these alone on the name. */
export const ADOPTABLE_TYPES: ReadonlySet<string> = new Set(['A', 'AAAA', 'CNAME']);

/** Owner written in a record's comment, if Tunnelfleet wrote it. */
export function commentOwner(comment: string | null | undefined): string | undefined {
  return comment ? OWNER_RE.exec(comment)?.[1] : undefined;
}

export function tunnelCname(
  hostname: string,
  want: Pick<DesiredDnsRecord, 'tunnelId'>,
  comment: string,
): TunnelCname {
  return {
    name: hostname,
    type: 'CNAME',
    content: `${want.tunnelId}.cfargotunnel.com`,
    proxied: true,
    ttl: 1,
    comment,
  };
}

function matches(record: CurrentDnsRecord, wanted: TunnelCname): boolean {
  return (
    record.type === 'CNAME' &&
    normalizeHostname(record.content ?? '') === wanted.content &&
    record.proxied === true &&
    record.ttl === 1 &&
    record.comment === wanted.comment
  );
}

/**
 * Decides the calls that bring one zone in line with what an owner wants; no I/O.
 *
 * Ownership: a record is ours when its comment carries our marker. Records of this owner that
 * no desired hostname needs are deleted; a marked record of another owner is only touched when
 * this owner wants its hostname (the route moved), or deleted when its id is in `ownedIds`.
 * A record without the marker is never changed unless `adopt` is set; otherwise its hostname is
 * a conflict.
 */
export function planZone(input: DnsZonePlanInput): DnsZonePlan {
  const plan: DnsZonePlan = { deletes: [], patches: [], puts: [], posts: [], results: new Map(), kept: [] };
  const index = input.index ?? indexZone(input.current);

  // Records this owner may delete: its own marked ones, and marked ones it recorded as its own.
  const candidates = new Set(index.byOwner.get(input.owner) ?? []);
  for (const id of input.ownedIds) {
    for (const entry of index.byId.get(id) ?? []) if (entry.owner !== undefined) candidates.add(entry);
  }
  const inZoneOrder = (a: IndexedRecord, b: IndexedRecord) =>
    a.namePosition - b.namePosition || a.position - b.position;
  for (const entry of [...candidates].sort(inZoneOrder)) {
    if (input.desired.has(entry.name)) continue;
    if (input.unsynced.has(entry.name)) plan.kept.push({ hostname: entry.name, recordId: entry.record.id });
    else plan.deletes.push({ id: entry.record.id, hostname: entry.name });
  }

  for (const [hostname, want] of input.desired) {
    const record = tunnelCname(hostname, want, input.comment);
    const list = index.byName.get(hostname) ?? [];
    const marked = list.filter((r) => r.owner !== undefined).map((r) => r.record);
    const foreign = list.filter((r) => r.owner === undefined).map((r) => r.record);
    const [ours, ...extra] = marked;
    for (const duplicate of extra) plan.deletes.push({ id: duplicate.id, hostname });
    const [lone] = foreign;
    if (ours) {
      if (!matches(ours, record)) {
        if (ours.type === 'CNAME') plan.patches.push({ id: ours.id, hostname, record });
        else plan.puts.push({ id: ours.id, hostname, record });
      }
      plan.results.set(hostname, { status: 'ok', recordId: ours.id });
    } else if (!lone) {
      plan.posts.push({ hostname, record });
    } else if (input.adopt && foreign.length === 1 && ADOPTABLE_TYPES.has(lone.type)) {
      plan.puts.push({ id: lone.id, hostname, record });
      plan.results.set(hostname, { status: 'adopted', recordId: lone.id });
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
