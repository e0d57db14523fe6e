import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateApiKey, parseApiKey } from '@tunnelfleet/common';
import { afterEach, describe, expect, it } from 'vitest';
import { findAgentKey, listAgentKeys, revokeAgentKey } from '../store/agent-keys.js';
import { openDatabase } from '../store/database.js';
import { migrations } from '../store/migrations.js';
import { getSetting, SETTING_KEYS } from '../store/settings.js';
import { AdminTokenError, adminTokenMatches, setUpAdminToken } from './admin-token.js';
import { findPresentedAgentKey, issueAgentKey } from './agent-key-issuer.js';
import { checkHostnameAllowed, hostnameMatchesPattern } from './hostname-allowlist.js';
import { hashSecret, secretMatchesHash } from './secret-hash.js';

const dirs: string[] = [];
function tempDir() {
  const dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-keys-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Every byte SQLite wrote for this data dir: the main file, WAL and shared memory. */
function databaseBytes(dir: string): string {
  return readdirSync(dir)
    .map((name) => readFileSync(join(dir, name)).toString('latin1'))
    .join('');
}

describe('agent keys', () => {
  it('stores only the hash: the secret appears nowhere in the database files', () => {
    const dir = tempDir();
    const db = openDatabase(dir);
    const { key, record } = issueAgentKey(db, {
      name: 'host-a',
      hostnameAllowlist: [],
      allowAnyHostname: true,
      autoApprove: true,
    });
    const secret = parseApiKey(key)!.secret;
    db.pragma('wal_checkpoint(TRUNCATE)');
    const bytes = databaseBytes(dir);
    expect(bytes).not.toContain(secret);
    expect(bytes).not.toContain(key);
    expect(bytes).toContain(record.secretHash);
    expect(record.secretHash).toBe(hashSecret(secret));
    db.close();
  });

  it('finds a presented key by id and accepts only the exact secret', () => {
    const db = openDatabase(tempDir());
    const { key, record } = issueAgentKey(db, {
      name: 'host-a',
      hostnameAllowlist: [],
      allowAnyHostname: true,
      autoApprove: false,
    });
    expect(findPresentedAgentKey(db, key)?.id).toBe(record.id);
    const last = key.at(-1) === 'A' ? 'B' : 'A';
    expect(findPresentedAgentKey(db, `${key.slice(0, -1)}${last}`)).toBeNull();
    expect(findPresentedAgentKey(db, generateApiKey().key)).toBeNull();
    expect(findPresentedAgentKey(db, 'not-a-key')).toBeNull();
    db.close();
  });

  it('keeps allowlist and approval mode, and revokes once', () => {
    const db = openDatabase(tempDir());
    const { record } = issueAgentKey(db, {
      name: 'edge',
      hostnameAllowlist: ['*.apps.example.com'],
      allowAnyHostname: false,
      autoApprove: false,
    });
    expect(findAgentKey(db, record.id)).toMatchObject({
      hostnameAllowlist: ['*.apps.example.com'],
      allowAnyHostname: false,
      autoApprove: false,
    });
    expect(revokeAgentKey(db, record.id)).toBe(true);
    expect(revokeAgentKey(db, record.id)).toBe(false);
    expect(listAgentKeys(db)[0]?.revokedAt).not.toBeNull();
    db.close();
  });

  it('keeps a key from before scopes were required (empty allowlist) allowing any hostname', () => {
    const dir = tempDir();
    const before = openDatabase(dir, { migrations: migrations.filter((m) => m.version === 1) });
    const insert = before.prepare(
      `INSERT INTO agent_keys (id, name, secret_hash, hostname_allowlist, created_at)
       VALUES (?, ?, 'x', ?, '2026-01-01T00:00:00.000Z')`,
    );
    insert.run('00000000000000a1', 'old-any', '[]');
    insert.run('00000000000000a2', 'old-listed', '["*.apps.example.com"]');
    before.close();
    const db = openDatabase(dir);
    expect(
      listAgentKeys(db).map(({ name, hostnameAllowlist, allowAnyHostname }) => ({
        name,
        hostnameAllowlist,
        allowAnyHostname,
      })),
    ).toEqual([
      { name: 'old-any', hostnameAllowlist: [], allowAnyHostname: true },
      { name: 'old-listed', hostnameAllowlist: ['*.apps.example.com'], allowAnyHostname: false },
    ]);
    db.close();
  });

  it('compares hashes of any length safely', () => {
    expect(secretMatchesHash('s', hashSecret('s'))).toBe(true);
    expect(secretMatchesHash('s', hashSecret('t'))).toBe(false);
    expect(secretMatchesHash('s', 'abcd')).toBe(false);
    expect(secretMatchesHash('s', '')).toBe(false);
  });
});

describe('hostname allowlist', () => {
  it.each([
    ['app.apps.example.com', '*.apps.example.com', true],
    ['a.b.apps.example.com', '*.apps.example.com', true],
    ['APP.Apps.Example.com.', '*.apps.example.com', true],
    ['apps.example.com', '*.apps.example.com', false],
    ['evilapps.example.com', '*.apps.example.com', false],
    ['app.example.com', 'app.example.com', true],
    ['app.example.com.evil.net', 'app.example.com', false],
  ])('%s against %s → %s', (hostname, pattern, expected) => {
    expect(hostnameMatchesPattern(hostname, pattern)).toBe(expected);
  });

  const anyHostname = { hostnameAllowlist: [], allowAnyHostname: true };
  const listed = (...hostnameAllowlist: string[]) => ({ hostnameAllowlist, allowAnyHostname: false });

  it('allows any plain hostname to an allow-any key, and explains a refusal by an allowlist', () => {
    expect(checkHostnameAllowed('x.example.com', anyHostname)).toEqual({ allowed: true });
    const verdict = checkHostnameAllowed('x.other.net', listed('*.apps.example.com'));
    expect(verdict.allowed).toBe(false);
    expect(verdict.allowed === false && verdict.reason).toContain('x.other.net');
    expect(checkHostnameAllowed('x.example.com', listed())).toMatchObject({ allowed: false });
  });

  it('allows a wildcard hostname only through that wildcard or a broader one, never to allow-any', () => {
    expect(checkHostnameAllowed('*.example.com', anyHostname)).toEqual({
      allowed: false,
      reason: expect.stringMatching(
        /wildcard hostname \*\.example\.com .*any hostname, which never includes wildcards/,
      ),
    });
    expect(checkHostnameAllowed('*.apps.example.com', listed('*.apps.example.com'))).toEqual({
      allowed: true,
    });
    expect(checkHostnameAllowed('*.apps.example.com', listed('*.example.com'))).toEqual({ allowed: true });
    expect(checkHostnameAllowed('*.example.com', listed('*.apps.example.com'))).toMatchObject({
      allowed: false,
    });
    expect(checkHostnameAllowed('*.example.com', listed('web.example.com'))).toMatchObject({
      allowed: false,
    });
  });
});

describe('admin token', () => {
  it('is generated once at first start, only its hash stored, and kept across restarts', () => {
    const dir = tempDir();
    const db = openDatabase(dir);
    const first = setUpAdminToken(db, undefined);
    expect(first.generated).toMatch(/^tfa_/);
    expect(getSetting(db, SETTING_KEYS.adminTokenHash)).toBe(hashSecret(first.generated!));
    const second = setUpAdminToken(db, undefined);
    expect(second.generated).toBeUndefined();
    expect(adminTokenMatches(first.generated!, second.hash)).toBe(true);
    db.pragma('wal_checkpoint(TRUNCATE)');
    expect(databaseBytes(dir)).not.toContain(first.generated!);
    db.close();
  });

  it('uses the environment token and refuses one shaped like an agent key or too short', () => {
    const db = openDatabase(tempDir());
    const token = 'x'.repeat(40);
    expect(adminTokenMatches(token, setUpAdminToken(db, token).hash)).toBe(true);
    expect(() => setUpAdminToken(db, generateApiKey().key)).toThrow(AdminTokenError);
    expect(() => setUpAdminToken(db, 'short')).toThrow(AdminTokenError);
    db.close();
  });
});
