import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { setSetting } from '../store/settings.js';
import { listRetainedRoutes, type RetainedRoute, saveRetainedRoutes } from './retained-routes.js';

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

  it('reads a damaged document as none, rather than failing every reconcile', () => {
    setSetting(db, 'routes.retained', '{not json');
    expect(listRetainedRoutes(db)).toEqual([]);
  });
});
