import type { SqliteDatabase } from './database.js';
import { statement } from './statements.js';

/**
 * What Tunnelfleet created at Cloudflare and may therefore change or delete: ingress rules per
 * tunnel, DNS records per zone, Access apps. Each sync replaces its scope with what it applied.
 */

interface OwnedIngressRule {
  tunnelId: string;
  hostname: string;
  path: string;
}

interface OwnedRecord {
  cfId: string;
  zoneId: string;
  hostname: string;
}

export interface OwnedApp {
  cfId: string;
  hostname: string;
  path: string;
}

/** What a sync reads back of each kind it replaces, and the column of its scope (tunnel or zone). */
const LISTED = {
  ingress_rule: { columns: 'tunnel_id, hostname, path', scope: 'tunnel_id' },
  dns_record: { columns: 'cf_id, zone_id, hostname', scope: 'zone_id' },
} as const;

/** The rows of one kind we own, all of them or those of one scope (a tunnel or a zone). */
function ownedRows<Row>(db: SqliteDatabase, kind: keyof typeof LISTED, scopeId: string | undefined): Row[] {
  const { columns, scope } = LISTED[kind];
  // Only the given filter goes into the SQL: `(? IS NULL OR zone_id = ?)` keeps SQLite off the index.
  const select = `SELECT ${columns} FROM owned_objects WHERE kind = '${kind}'`;
  return (
    scopeId === undefined
      ? statement(db, `${select} ORDER BY id`).all()
      : statement(db, `${select} AND ${scope} = ? ORDER BY id`).all(scopeId)
  ) as Row[];
}

type IngressRuleRow = { tunnel_id: string; hostname: string; path: string };
type RecordRow = { cf_id: string; zone_id: string; hostname: string };

export function listOwnedIngressRules(db: SqliteDatabase, tunnelId?: string): OwnedIngressRule[] {
  const rows = ownedRows<IngressRuleRow>(db, 'ingress_rule', tunnelId);
  return rows.map((row) => ({ tunnelId: row.tunnel_id, hostname: row.hostname, path: row.path }));
}

/**
 * Replaces what we own on one tunnel with what its sync returned. Only the rows that changed are
 * written: a drift check that found nothing to change writes nothing, and a rule kept keeps the
 * time it was first recorded.
 */
export function replaceOwnedIngressRules(
  db: SqliteDatabase,
  tunnelId: string,
  rules: readonly { hostname: string; path: string }[],
  at: string,
): void {
  const key = (rule: { hostname: string; path: string }) => `${rule.hostname}\u0000${rule.path}`;
  const before = statement(
    db,
    "SELECT id, hostname, path FROM owned_objects WHERE kind = 'ingress_rule' AND tunnel_id = ?",
  ).all(tunnelId) as { id: number; hostname: string; path: string }[];
  const wanted = new Set(rules.map(key));
  const kept = new Set<string>();
  for (const row of before) {
    if (wanted.has(key(row)) && !kept.has(key(row))) kept.add(key(row));
    else deleteOwnedRow(db, row.id);
  }
  for (const rule of rules) {
    if (kept.has(key(rule))) continue;
    kept.add(key(rule));
    statement(
      db,
      `INSERT INTO owned_objects (kind, tunnel_id, hostname, path, created_at) VALUES ('ingress_rule', ?, ?, ?, ?)`,
    ).run(tunnelId, rule.hostname, rule.path, at);
  }
}

function deleteOwnedRow(db: SqliteDatabase, id: number): void {
  statement(db, 'DELETE FROM owned_objects WHERE id = ?').run(id);
}

export function listOwnedRecords(db: SqliteDatabase, zoneId?: string): OwnedRecord[] {
  const rows = ownedRows<RecordRow>(db, 'dns_record', zoneId);
  return rows.map((row) => ({ cfId: row.cf_id, zoneId: row.zone_id, hostname: row.hostname }));
}

/** Our records of one zone on the given hostnames only, read by hostname (a change's names). */
export function listOwnedRecordsOn(
  db: SqliteDatabase,
  zoneId: string,
  hostnames: ReadonlySet<string>,
): OwnedRecord[] {
  return recordRowsOn(db, zoneId, hostnames).map((row) => ({
    cfId: row.cf_id,
    zoneId,
    hostname: row.hostname,
  }));
}

function recordRowsOn(db: SqliteDatabase, zoneId: string, hostnames: ReadonlySet<string>) {
  const select = statement(
    db,
    `SELECT id, cf_id, hostname, adopted FROM owned_objects
     WHERE hostname = ? AND kind = 'dns_record' AND zone_id = ? ORDER BY id`,
  );
  return [...hostnames].flatMap(
    (hostname) =>
      select.all(hostname, zoneId) as { id: number; cf_id: string; hostname: string; adopted: number }[],
  );
}

/** Tunnels we own an ingress rule on. */
export function listOwnedRuleTunnels(db: SqliteDatabase): string[] {
  const rows = statement(
    db,
    "SELECT DISTINCT tunnel_id FROM owned_objects WHERE kind = 'ingress_rule' ORDER BY tunnel_id",
  ).all() as { tunnel_id: string }[];
  return rows.map((row) => row.tunnel_id);
}

/**
 * One hostname of each zone we own a DNS record in (enough to name the zone), in zone order. Two
 * seeks a zone in `owned_by_zone` (kind, zone, hostname): a GROUP BY read every record, 93 ms at
 * 200,000 of them.
 */
export function listOwnedRecordZones(db: SqliteDatabase): { zoneId: string; hostname: string }[] {
  const rows = statement(
    db,
    `WITH RECURSIVE zones(zone_id) AS (
       SELECT MIN(zone_id) FROM owned_objects WHERE kind = 'dns_record'
       UNION ALL
       SELECT (SELECT MIN(zone_id) FROM owned_objects WHERE kind = 'dns_record' AND zone_id > zones.zone_id)
       FROM zones WHERE zones.zone_id IS NOT NULL
     )
     SELECT zone_id,
       (SELECT MIN(hostname) FROM owned_objects WHERE kind = 'dns_record' AND zone_id = zones.zone_id) AS hostname
     FROM zones WHERE zone_id IS NOT NULL`,
  ).all() as { zone_id: string; hostname: string }[];
  return rows.map((row) => ({ zoneId: row.zone_id, hostname: row.hostname }));
}

/**
 * Replaces what we own in one zone with what its sync returned: the whole zone, or with
 * `hostnames` only the rows on those names (a sync limited to a change's names).
 */
export function replaceOwnedRecords(
  db: SqliteDatabase,
  zoneId: string,
  records: readonly { hostname: string; recordId: string; adopted: boolean }[],
  at: string,
  hostnames?: ReadonlySet<string>,
): void {
  // Only what changed is written: a zone of thousands of records is synced often (every change of
  // one of its routes, every drift check), and rewriting each of its rows held the event loop.
  const before = hostnames
    ? recordRowsOn(db, zoneId, hostnames)
    : (statement(
        db,
        "SELECT id, cf_id, hostname, adopted FROM owned_objects WHERE kind = 'dns_record' AND zone_id = ?",
      ).all(zoneId) as { id: number; cf_id: string; hostname: string; adopted: number }[]);
  const wanted = new Map(records.map((record) => [record.recordId, record]));
  const kept = new Set<string>();
  for (const row of before) {
    const record = wanted.get(row.cf_id);
    if (!record || record.hostname !== row.hostname || kept.has(row.cf_id)) {
      deleteOwnedRow(db, row.id);
      continue;
    }
    kept.add(row.cf_id);
    const adopted = record.adopted ? 1 : 0;
    if (adopted !== row.adopted)
      statement(db, 'UPDATE owned_objects SET adopted = ? WHERE id = ?').run(adopted, row.id);
  }
  for (const record of records) {
    if (kept.has(record.recordId)) continue;
    kept.add(record.recordId);
    statement(
      db,
      `INSERT INTO owned_objects (kind, cf_id, zone_id, hostname, adopted, created_at)
       VALUES ('dns_record', ?, ?, ?, ?, ?)`,
    ).run(record.recordId, zoneId, record.hostname, record.adopted ? 1 : 0, at);
  }
}

export function listOwnedApps(db: SqliteDatabase): OwnedApp[] {
  return (
    statement(
      db,
      "SELECT cf_id, hostname, path FROM owned_objects WHERE kind = 'access_app' ORDER BY id",
    ).all() as { cf_id: string; hostname: string; path: string }[]
  ).map((row) => ({ cfId: row.cf_id, hostname: row.hostname, path: row.path }));
}

export function replaceOwnedApps(db: SqliteDatabase, apps: readonly OwnedApp[], at: string): void {
  statement(db, "DELETE FROM owned_objects WHERE kind = 'access_app'").run();
  for (const app of apps) {
    statement(
      db,
      `INSERT INTO owned_objects (kind, cf_id, hostname, path, created_at) VALUES ('access_app', ?, ?, ?, ?)`,
    ).run(app.cfId, app.hostname, app.path, at);
  }
}

/** Every object we own for one hostname and path, of each kind (a route's detail page). */
export function ownedObjectsOf(
  db: SqliteDatabase,
  hostname: string,
  path: string,
): {
  kind: 'dns_record' | 'ingress_rule' | 'access_app';
  cfId: string | null;
  zoneId: string | null;
  tunnelId: string | null;
}[] {
  return (
    statement(
      db,
      `SELECT kind, cf_id, zone_id, tunnel_id FROM owned_objects
       WHERE hostname = ? AND (kind = 'dns_record' OR path = ?) ORDER BY id`,
    ).all(hostname, path) as {
      kind: 'dns_record' | 'ingress_rule' | 'access_app';
      cf_id: string | null;
      zone_id: string | null;
      tunnel_id: string | null;
    }[]
  ).map((row) => ({ kind: row.kind, cfId: row.cf_id, zoneId: row.zone_id, tunnelId: row.tunnel_id }));
}

/** One record taken over by an operator: ours from now on, marked as adopted. */
export function addAdoptedRecord(
  db: SqliteDatabase,
  zoneId: string,
  record: { hostname: string; recordId: string },
  at: string,
): void {
  statement(db, "DELETE FROM owned_objects WHERE kind = 'dns_record' AND zone_id = ? AND cf_id = ?").run(
    zoneId,
    record.recordId,
  );
  statement(
    db,
    `INSERT INTO owned_objects (kind, cf_id, zone_id, hostname, adopted, created_at)
     VALUES ('dns_record', ?, ?, ?, 1, ?)`,
  ).run(record.recordId, zoneId, record.hostname, at);
}
