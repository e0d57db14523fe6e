import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from './database.js';
import { listOwnedRecordZones, replaceOwnedIngressRules, replaceOwnedRecords } from './owned-objects.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function freshDatabase(): SqliteDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-owned-'));
  dirs.push(dir);
  return openDatabase(dir);
}

function ownedRows(db: SqliteDatabase, kind: string) {
  return db
    .prepare(
      'SELECT id, cf_id, hostname, path, adopted, created_at FROM owned_objects WHERE kind = ? ORDER BY id',
    )
    .all(kind);
}

const changes = (db: SqliteDatabase) => db.prepare('SELECT total_changes() AS n').pluck().get() as number;

describe('replacing what a sync owns', () => {
  const records = Array.from({ length: 50 }, (_, i) => ({
    hostname: `svc-${i}.example.com`,
    recordId: `rec-${i}`,
    adopted: false,
  }));

  it('writes nothing when a zone sync found what was already owned', () => {
    const db = freshDatabase();
    replaceOwnedRecords(db, 'zone-a', records, '2026-12-01T00:00:00.000Z');
    const before = ownedRows(db, 'dns_record');
    const written = changes(db);
    replaceOwnedRecords(db, 'zone-a', [...records].reverse(), '2026-12-05T00:00:00.000Z');
    expect(changes(db)).toBe(written);
    // Each record keeps its row and the time it was first recorded.
    expect(ownedRows(db, 'dns_record')).toEqual(before);
  });

  it('writes only the records that went, came or changed, and leaves other zones alone', () => {
    const db = freshDatabase();
    replaceOwnedRecords(db, 'zone-a', records, '2026-12-01T00:00:00.000Z');
    replaceOwnedRecords(
      db,
      'zone-b',
      [{ hostname: 'b.example.com', recordId: 'rec-b', adopted: false }],
      'x',
    );
    const zoneB = ownedRows(db, 'dns_record').filter((row) => (row as { cf_id: string }).cf_id === 'rec-b');
    const written = changes(db);
    const next = [
      ...records.slice(1).map((r) => (r.recordId === 'rec-7' ? { ...r, adopted: true } : r)),
      { hostname: 'svc-new.example.com', recordId: 'rec-new', adopted: false },
    ];
    replaceOwnedRecords(db, 'zone-a', next, '2026-12-05T00:00:00.000Z');
    // rec-0 deleted, rec-7 marked adopted, rec-new inserted.
    expect(changes(db) - written).toBe(3);
    const rows = ownedRows(db, 'dns_record') as { cf_id: string; adopted: number; created_at: string }[];
    expect(rows.map((r) => r.cf_id).sort()).toEqual([...next.map((r) => r.recordId), 'rec-b'].sort());
    expect(rows.find((r) => r.cf_id === 'rec-7')).toMatchObject({
      adopted: 1,
      created_at: '2026-12-01T00:00:00.000Z',
    });
    expect(rows.find((r) => r.cf_id === 'rec-new')?.created_at).toBe('2026-12-05T00:00:00.000Z');
    expect(rows.filter((r) => r.cf_id === 'rec-b')).toEqual(zoneB);
  });

  it('keeps a tunnel sync that changed nothing from writing, and writes only the rules that changed', () => {
    const db = freshDatabase();
    const rules = [
      { hostname: 'a.example.com', path: '' },
      { hostname: 'a.example.com', path: '/api' },
      { hostname: 'b.example.com', path: '' },
    ];
    replaceOwnedIngressRules(db, 'tunnel-1', rules, '2026-12-01T00:00:00.000Z');
    const written = changes(db);
    replaceOwnedIngressRules(db, 'tunnel-1', rules, '2026-12-05T00:00:00.000Z');
    expect(changes(db)).toBe(written);
    replaceOwnedIngressRules(db, 'tunnel-1', [rules[0]!, { hostname: 'c.example.com', path: '' }], 'later');
    expect(changes(db) - written).toBe(3);
    const rows = ownedRows(db, 'ingress_rule') as { hostname: string; path: string; created_at: string }[];
    expect(rows.map((r) => [r.hostname, r.path, r.created_at])).toEqual([
      ['a.example.com', '', '2026-12-01T00:00:00.000Z'],
      ['c.example.com', '', 'later'],
    ]);
  });
});

describe('the zones we own records in', () => {
  it('names each zone once, in order, by its least hostname; rules of tunnels name no zone', () => {
    const db = freshDatabase();
    const record = (hostname: string) => ({ hostname, recordId: `rec-${hostname}`, adopted: false });
    replaceOwnedRecords(db, 'zone-b', [record('y.b.test'), record('x.b.test')], 'x');
    replaceOwnedRecords(db, 'zone-a', [record('m.a.test'), record('c.a.test'), record('q.a.test')], 'x');
    replaceOwnedIngressRules(db, 'tunnel-1', [{ hostname: 'a.c.test', path: '' }], 'x');
    expect(listOwnedRecordZones(db)).toEqual([
      { zoneId: 'zone-a', hostname: 'c.a.test' },
      { zoneId: 'zone-b', hostname: 'x.b.test' },
    ]);
    expect(listOwnedRecordZones(freshDatabase())).toEqual([]);
  });
});
