import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { migrations } from '../store/migrations.js';
import { setSetting } from '../store/settings.js';
import {
  listRetainedRoutes,
  type RetainedRoute,
  removeRetainedRoutes,
  saveRetainedRoutes,
} from './retained-routes.js';

let dir: string;
let db: SqliteDatabase;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-retained-'));
  db = openDatabase(dir);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const kept: RetainedRoute = {
  id: 'rr_0123456789abcdef',
  agentId: 'ag_1',
  containerName: 'wiki',
  hostname: 'wiki.example.com',
  path: '',
  service: 'http://wiki:80',
  zone: 'example.com',
  tunnelId: 'tunnel-1',
  spec: { dns: true, cleanup: false, originRequest: { noTLSVerify: true } },
  retainedAt: '2026-12-01T00:00:00.000Z',
};

describe('retained routes', () => {
  it('has none on a fresh database', () => {
    expect(listRetainedRoutes(db)).toEqual([]);
  });

  it('keeps what was saved across a restart of the master', () => {
    saveRetainedRoutes(db, [kept, { ...kept, hostname: 'docs.example.com', path: '/v2' }]);
    db.close();
    db = openDatabase(dir);
    expect(listRetainedRoutes(db)).toEqual([kept, { ...kept, hostname: 'docs.example.com', path: '/v2' }]);
  });

  it('removes only the routes asked for, and returns them', () => {
    const other = { ...kept, id: 'rr_fedcba9876543210', agentId: 'ag_2', hostname: 'docs.example.com' };
    saveRetainedRoutes(db, [kept, other]);
    expect(removeRetainedRoutes(db, (r) => r.agentId === 'ag_2')).toEqual([other]);
    expect(listRetainedRoutes(db)).toEqual([kept]);
    expect(removeRetainedRoutes(db, (r) => r.agentId === 'ag_2')).toEqual([]);
  });

  it('gives the retained routes of a database from before ids existed an id each', () => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
    db = openDatabase(dir, { migrations: migrations.filter((m) => m.version === 1) });
    const { id: _id, ...legacy } = kept;
    setSetting(db, 'routes.retained', JSON.stringify([legacy, { ...legacy, hostname: 'docs.example.com' }]));
    db.close();
    db = openDatabase(dir);
    const migrated = listRetainedRoutes(db);
    expect(migrated).toEqual([
      { ...legacy, id: expect.stringMatching(/^rr_[0-9a-f]{16}$/) },
      { ...legacy, hostname: 'docs.example.com', id: expect.stringMatching(/^rr_[0-9a-f]{16}$/) },
    ]);
    expect(migrated[0]?.id).not.toBe(migrated[1]?.id);
  });

  it('reads a damaged document as none, rather than failing every reconcile', () => {
    setSetting(db, 'routes.retained', '{not json');
    expect(listRetainedRoutes(db)).toEqual([]);
  });
});
