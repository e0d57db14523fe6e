import { apiErrors } from '../errors.js';
import { hexId, isHexId } from '../ids.js';
import { paginate } from '../pagination.js';
import { type ApiRequest, type Route, route } from '../router.js';
import { requireZone } from '../scopes.js';
import { type DnsRecord, type EmulatorState, nowIso, type Zone } from '../state.js';
import { checkConflicts, type RecordInput, validateRecordInput } from './dns-validation.js';
import type { RouteDeps } from './route-deps.js';

export function recordView(record: DnsRecord): Record<string, unknown> {
  const { comment_modified_on, priority, ...rest } = record;
  return {
    ...rest,
    // The spec declares `comment` a required string and `data` required on every record.
    comment: rest.comment ?? '',
    data: {},
    ...(priority === undefined ? {} : { priority }),
    ...(comment_modified_on === undefined ? {} : { comment_modified_on }),
    meta: {},
  };
}

function objectBody(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw apiErrors.invalidRequest('Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** The zone's records by id (empty for a zone without records). */
function zoneRecords(state: EmulatorState, zoneId: string): ReadonlyMap<string, DnsRecord> {
  return state.dnsRecordsByZone.get(zoneId) ?? new Map();
}

function saveRecord(state: EmulatorState, record: DnsRecord): void {
  state.dnsRecords.set(record.id, record);
  let zone = state.dnsRecordsByZone.get(record.zone_id);
  if (!zone) {
    zone = new Map();
    state.dnsRecordsByZone.set(record.zone_id, zone);
  }
  zone.set(record.id, record);
}

function deleteRecord(state: EmulatorState, record: DnsRecord): void {
  state.dnsRecords.delete(record.id);
  state.dnsRecordsByZone.get(record.zone_id)?.delete(record.id);
}

/** Sorting as `localeCompare` does, with one collator instead of one per comparison. */
const compareText = new Intl.Collator().compare;

function findRecord(state: EmulatorState, zone: Zone, id: unknown): DnsRecord {
  if (typeof id !== 'string' || !isHexId(id)) throw apiErrors.recordNotFound();
  const record = state.dnsRecords.get(id);
  if (!record || record.zone_id !== zone.id) throw apiErrors.recordNotFound();
  return record;
}

function build(zone: Zone, input: RecordInput, previous?: DnsRecord): DnsRecord {
  const now = nowIso();
  const record: DnsRecord = {
    id: previous?.id ?? hexId(),
    zone_id: zone.id,
    zone_name: zone.name,
    name: input.name,
    type: input.type,
    content: input.content,
    proxied: input.proxied,
    proxiable: input.type === 'A' || input.type === 'AAAA' || input.type === 'CNAME',
    ttl: input.ttl,
    comment: input.comment,
    tags: input.tags,
    settings: input.settings,
    created_on: previous?.created_on ?? now,
    modified_on: now,
  };
  if (input.priority !== undefined) record.priority = input.priority;
  const commentChanged = previous ? previous.comment !== input.comment : input.comment !== null;
  if (input.comment !== null) {
    record.comment_modified_on = commentChanged ? now : (previous?.comment_modified_on ?? now);
  }
  return record;
}

/** The record operations, applied straight to the state; the batch endpoint rolls them back. */
export function recordOperations(state: EmulatorState, zone: Zone) {
  function* others(exceptId?: string): Iterable<DnsRecord> {
    for (const record of zoneRecords(state, zone.id).values()) if (record.id !== exceptId) yield record;
  }
  return {
    create(body: unknown): DnsRecord {
      const input = validateRecordInput(objectBody(body), zone);
      checkConflicts(input, others());
      const record = build(zone, input);
      saveRecord(state, record);
      return record;
    },
    replace(id: unknown, body: unknown): DnsRecord {
      const previous = findRecord(state, zone, id);
      const input = validateRecordInput(objectBody(body), zone);
      checkConflicts(input, others(previous.id));
      const record = build(zone, input, previous);
      saveRecord(state, record);
      return record;
    },
    patch(id: unknown, body: unknown): DnsRecord {
      const previous = findRecord(state, zone, id);
      const { id: _ignored, ...changes } = objectBody(body);
      const merged = { ...previous, ...changes };
      const input = validateRecordInput(merged, zone);
      checkConflicts(input, others(previous.id));
      const record = build(zone, input, previous);
      saveRecord(state, record);
      return record;
    },
    remove(id: unknown): DnsRecord {
      const record = findRecord(state, zone, id);
      deleteRecord(state, record);
      return record;
    },
  };
}

type TextOp = 'exact' | 'contains' | 'startswith' | 'endswith';

function textFilters(query: URLSearchParams, field: string): Array<(value: string | null) => boolean> {
  const filters: Array<(value: string | null) => boolean> = [];
  const plain = query.get(field);
  if (plain !== null) filters.push((value) => (value ?? '').toLowerCase() === plain.toLowerCase());
  for (const op of ['exact', 'contains', 'startswith', 'endswith'] as TextOp[]) {
    const wanted = query.get(`${field}.${op}`);
    if (wanted === null) continue;
    const needle = wanted.toLowerCase();
    filters.push((raw) => {
      const value = (raw ?? '').toLowerCase();
      if (raw === null && op !== 'exact') return false;
      if (op === 'exact') return raw !== null && raw.toLowerCase() === needle;
      if (op === 'contains') return value.includes(needle);
      if (op === 'startswith') return value.startsWith(needle);
      return value.endsWith(needle);
    });
  }
  return filters;
}

function listRecords(state: EmulatorState, zone: Zone, req: ApiRequest) {
  const q = req.query;
  // Names are compared as the API stores them (FQDN, lower case): `name=app` means `app.<zone>`.
  const nameQuery = new URLSearchParams();
  for (const key of ['name', 'name.exact']) {
    const raw = q.get(key);
    if (raw !== null) {
      const lower = raw.toLowerCase().replace(/\.$/, '');
      nameQuery.set(
        key,
        lower === zone.name || lower.endsWith(`.${zone.name}`) ? lower : `${lower}.${zone.name}`,
      );
    }
  }
  for (const key of ['name.contains', 'name.startswith', 'name.endswith']) {
    const raw = q.get(key);
    if (raw !== null) nameQuery.set(key, raw);
  }
  const checks: Array<(record: DnsRecord) => boolean> = [];
  for (const f of textFilters(nameQuery, 'name')) checks.push((r) => f(r.name));
  for (const f of textFilters(q, 'content')) checks.push((r) => f(r.content));
  for (const f of textFilters(q, 'comment')) checks.push((r) => f(r.comment));
  const type = q.get('type');
  if (type !== null) checks.push((r) => r.type === type);
  const proxied = q.get('proxied');
  if (proxied !== null) checks.push((r) => String(r.proxied) === proxied);
  if (q.has('comment.present')) checks.push((r) => r.comment !== null && r.comment !== '');
  if (q.has('comment.absent')) checks.push((r) => r.comment === null || r.comment === '');
  const tag = q.get('tag');
  if (tag !== null) checks.push((r) => r.tags.includes(tag));
  const search = q.get('search');
  if (search !== null) {
    const needle = search.toLowerCase();
    checks.push((r) => [r.name, r.content, r.comment ?? ''].some((v) => v.toLowerCase().includes(needle)));
  }
  const matchAny = q.get('match') === 'any';
  const order = (q.get('order') ?? 'type') as keyof DnsRecord;
  const direction = q.get('direction') === 'desc' ? -1 : 1;
  const records = [...zoneRecords(state, zone.id).values()]
    .filter((record) =>
      checks.length === 0 ? true : matchAny ? checks.some((c) => c(record)) : checks.every((c) => c(record)),
    )
    .sort(
      (a, b) =>
        direction * compareText(String(a[order]), String(b[order])) ||
        compareText(a.name, b.name) ||
        compareText(a.created_on, b.created_on) ||
        compareText(a.id, b.id),
    );
  return paginate(records.map(recordView), q, { defaultPerPage: 100, maxPerPage: 5_000_000 });
}

interface BatchBody {
  deletes?: Array<{ id?: unknown }>;
  patches?: Array<Record<string, unknown>>;
  puts?: Array<Record<string, unknown>>;
  posts?: unknown[];
}

function batch(state: EmulatorState, zone: Zone, body: unknown) {
  const parsed = objectBody(body) as BatchBody;
  for (const key of ['deletes', 'patches', 'puts', 'posts'] as const) {
    if (parsed[key] !== undefined && !Array.isArray(parsed[key])) {
      throw apiErrors.invalidRequest(`${key} must be an array`);
    }
  }
  // All or nothing, like the live API: any failure restores the zone's records as they were (a
  // batch reaches no other zone).
  const snapshot = [...zoneRecords(state, zone.id).values()];
  const ops = recordOperations(state, zone);
  try {
    return {
      deletes: (parsed.deletes ?? []).map((item) => recordView(ops.remove(item?.id))),
      patches: (parsed.patches ?? []).map((item) => recordView(ops.patch(item?.id, item))),
      puts: (parsed.puts ?? []).map((item) => {
        const { id, ...rest } = objectBody(item);
        return recordView(ops.replace(id, rest));
      }),
      posts: (parsed.posts ?? []).map((item) => recordView(ops.create(item))),
    };
  } catch (error) {
    // The zone's records come back in their order (the order a list of equal keys and `dnsRecords()` show).
    for (const id of zoneRecords(state, zone.id).keys()) state.dnsRecords.delete(id);
    state.dnsRecordsByZone.get(zone.id)?.clear();
    for (const record of snapshot) saveRecord(state, record);
    throw error;
  }
}

export function dnsRecordRoutes({ state }: RouteDeps): Route[] {
  const zoneOf = (req: ApiRequest) => requireZone(state, req.token, req.params.zone_id!, req.path);
  return [
    route('GET', '/zones/:zone_id/dns_records', (req) => {
      const page = listRecords(state, zoneOf(req), req);
      return { result: page.result, resultInfo: page.resultInfo };
    }),
    route('POST', '/zones/:zone_id/dns_records', (req) => ({
      result: recordView(recordOperations(state, zoneOf(req)).create(req.body)),
    })),
    route('POST', '/zones/:zone_id/dns_records/batch', (req) => ({
      result: batch(state, zoneOf(req), req.body),
    })),
    route('GET', '/zones/:zone_id/dns_records/:dns_record_id', (req) => {
      const zone = zoneOf(req);
      return { result: recordView(findRecord(state, zone, req.params.dns_record_id)) };
    }),
    route('PUT', '/zones/:zone_id/dns_records/:dns_record_id', (req) => ({
      result: recordView(recordOperations(state, zoneOf(req)).replace(req.params.dns_record_id, req.body)),
    })),
    route('PATCH', '/zones/:zone_id/dns_records/:dns_record_id', (req) => ({
      result: recordView(recordOperations(state, zoneOf(req)).patch(req.params.dns_record_id, req.body)),
    })),
    route('DELETE', '/zones/:zone_id/dns_records/:dns_record_id', (req) => {
      const record = recordOperations(state, zoneOf(req)).remove(req.params.dns_record_id);
      return { result: { id: record.id } };
    }),
  ];
}
