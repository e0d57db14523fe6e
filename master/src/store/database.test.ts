import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findAgentKey } from './agent-keys.js';
import { applyMigrations, openDatabase, StoreVersionError } from './database.js';
import { migrations } from './migrations.js';

const dirs: string[] = [];
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('creates a private WAL database with every table of the latest schema', () => {
    const dir = tempDir();
    const db = openDatabase(dir);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(statSync(join(dir, 'tunnelfleet.db')).mode & 0o777).toBe(0o600);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.at(-1)?.version);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => (row as { name: string }).name);
    expect(tables).toEqual(
      expect.arrayContaining([
        'agent_keys',
        'agents',
        'audit_log',
        'conflicts',
        'owned_objects',
        'routes',
        'tunnels',
      ]),
    );
    db.close();
  });

  it('reopens an existing file without reapplying migrations, keeping its rows', () => {
    const dir = tempDir();
    const first = openDatabase(dir);
    first.prepare("INSERT INTO settings (key, value) VALUES ('k', 'v')").run();
    first.close();
    const second = openDatabase(dir);
    expect(second.prepare("SELECT value FROM settings WHERE key = 'k'").get()).toEqual({ value: 'v' });
    second.close();
  });

  it('refuses a file written by a newer schema', () => {
    const db = openDatabase(tempDir());
    db.pragma('user_version = 999');
    expect(() => applyMigrations(db, migrations)).toThrow(StoreVersionError);
    db.close();
  });

  it('brings a key of a file from before the service policy forward with the default policy, and reads a garbled policy as the default', () => {
    const dir = tempDir();
    const before = openDatabase(dir, { migrations: migrations.filter((m) => m.version === 1) });
    const insert =
      "INSERT INTO agent_keys (id, name, secret_hash, created_at) VALUES (?, 'old', 'h', '2026-01-01T00:00:00Z')";
    before.prepare(insert).run('00000000000000a1');
    before.close();
    const after = openDatabase(dir);
    expect(findAgentKey(after, '00000000000000a1')?.servicePolicy).toEqual({
      allow: [],
      containerOnly: false,
    });
    after.prepare(insert).run('00000000000000a2');
    after
      .prepare('UPDATE agent_keys SET service_policy = \'{"allow":["everything"]}\' WHERE id = ?')
      .run('00000000000000a2');
    expect(findAgentKey(after, '00000000000000a2')?.servicePolicy).toEqual({
      allow: [],
      containerOnly: false,
    });
    after.close();
  });

  it('gives routes of a version 1 file their identity: the compose service, else the container name', () => {
    const db = openDatabase(tempDir(), { migrations: migrations.filter((m) => m.version <= 2) });
    const at = '2026-12-04T12:00:00.000Z';
    db.prepare("INSERT INTO agent_keys (id, name, secret_hash, created_at) VALUES ('k', 'k', 'x', ?)").run(
      at,
    );
    db.prepare(
      "INSERT INTO agents (id, key_id, name, status, created_at) VALUES ('ag', 'k', 'ag', 'approved', ?)",
    ).run(at);
    const addContainer = db.prepare(
      "INSERT INTO containers (agent_id, container_id, name, state, labels, updated_at) VALUES ('ag', ?, ?, 'running', ?, ?)",
    );
    addContainer.run(
      'c1',
      'shop-web-1',
      JSON.stringify({ 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web' }),
      at,
    );
    addContainer.run('c2', 'wiki', JSON.stringify({ 'tunnelfleet.enable': 'true' }), at);
    const addRoute = db.prepare(
      `INSERT INTO routes (agent_id, container_id, container_name, route_key, status, claimed_at, created_at, updated_at)
       VALUES ('ag', ?, ?, 'default', 'active', ?, ?, ?)`,
    );
    addRoute.run('c1', 'shop-web-1', at, at, at);
    addRoute.run('c2', 'wiki', at, at, at);
    addRoute.run('gone', 'old', at, at, at);

    applyMigrations(db, migrations);
    expect(
      db.prepare('SELECT container_id, identity, replicas, replaced FROM routes ORDER BY id').all(),
    ).toEqual([
      { container_id: 'c1', identity: 'compose:shop/web', replicas: 1, replaced: '[]' },
      { container_id: 'c2', identity: 'container:wiki', replicas: 1, replaced: '[]' },
      { container_id: 'gone', identity: 'container:old', replicas: 1, replaced: '[]' },
    ]);
    db.close();
  });
});
