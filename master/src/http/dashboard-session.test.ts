import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CSRF_HEADER, SESSION_COOKIE, SESSION_PATH } from '@tunnelfleet/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';
import { DASHBOARD_CSP } from './security-headers.js';

/** The session cookie's value from a Set-Cookie answer. */
function sessionCookie(headers: Headers): string {
  const line = headers.getSetCookie().find((cookie) => cookie.startsWith(`${SESSION_COOKIE}=`));
  if (!line) throw new Error('no session cookie set');
  return line.split(';')[0]!;
}

describe('dashboard sessions over HTTP', () => {
  let fx: MasterFixture;
  let assets: string;
  beforeAll(async () => {
    // A stand-in build: this file tests serving and sessions; the browser tests use the real build.
    assets = mkdtempSync(join(tmpdir(), 'tunnelfleet-dashboard-'));
    mkdirSync(join(assets, 'assets'));
    writeFileSync(
      join(assets, 'index.html'),
      '<!doctype html><title>Tunnelfleet</title><div id="root"></div>',
    );
    writeFileSync(join(assets, 'assets', 'app-abc123.js'), 'console.log(1)');
    fx = await startMasterFixture({ env: { DASHBOARD_DIR: assets, DASHBOARD_SESSION_TTL: '1h' } });
  });
  afterAll(async () => {
    await fx?.close();
    rmSync(assets, { recursive: true, force: true });
  });

  async function signIn(token: string, headers: Record<string, string> = {}) {
    const answer = await fx.request('POST', SESSION_PATH, { body: { token }, headers });
    expect(answer.status).toBe(201);
    const cookie = sessionCookie(answer.headers);
    return { cookie, csrf: answer.body.session.csrfToken as string, answer };
  }
  const withCookie = (cookie: string, extra: Record<string, string> = {}) => ({ cookie, ...extra });

  it('signs the admin in with an httpOnly SameSite=Strict cookie; Secure only behind TLS', async () => {
    const { answer } = await signIn(fx.adminToken);
    const line = answer.headers.getSetCookie()[0]!;
    expect(line).toMatch(/HttpOnly/);
    expect(line).toMatch(/SameSite=Strict/);
    expect(line).not.toMatch(/Secure/);
    expect(answer.body.session).toMatchObject({ role: 'admin', name: 'admin' });
    expect(JSON.stringify(answer.body)).not.toContain(fx.adminToken);
  });

  it('marks the cookie Secure when a trusted proxy says the request came over https', async () => {
    const behindProxy = await startMasterFixture({ env: { TRUST_PROXY: 'loopback' } });
    try {
      const answer = await behindProxy.request('POST', SESSION_PATH, {
        body: { token: behindProxy.adminToken },
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(answer.headers.getSetCookie()[0]).toMatch(/; Secure/);
    } finally {
      await behindProxy.close();
    }
  });

  it('reads with the cookie, refuses a change without the CSRF token, and audits who made it', async () => {
    const { cookie, csrf } = await signIn(fx.adminToken);
    const agents = await fx.request('GET', '/api/v1/admin/agents', { headers: withCookie(cookie) });
    expect(agents.status).toBe(200);

    const forged = await fx.request('POST', '/api/v1/admin/keys', {
      body: { name: 'forged', allowAnyHostname: true },
      headers: withCookie(cookie),
    });
    expect(forged.status).toBe(403);
    expect(forged.body.error.message).toContain(CSRF_HEADER);
    const wrong = await fx.request('POST', '/api/v1/admin/keys', {
      body: { name: 'forged', allowAnyHostname: true },
      headers: withCookie(cookie, { [CSRF_HEADER]: `${csrf.slice(1)}x` }),
    });
    expect(wrong.status).toBe(403);
    const keys = await fx.admin('GET', '/keys');
    expect(keys.body.keys.map((k: { name: string }) => k.name)).not.toContain('forged');

    const made = await fx.request('POST', '/api/v1/admin/keys', {
      body: { name: 'from-the-dashboard', allowAnyHostname: true },
      headers: withCookie(cookie, { [CSRF_HEADER]: csrf }),
    });
    expect(made.status).toBe(201);
    const audit = await fx.admin('GET', '/audit?action=key.create');
    const entry = audit.body.entries.find(
      (e: { details: { name: string } }) => e.details.name === 'from-the-dashboard',
    );
    expect(entry.actor).toMatch(/^dashboard:admin:[0-9a-f]{8}$/);
  });

  it('gives a viewer token read-only sessions, stored as a hash only, ended by revocation', async () => {
    const created = await fx.admin('POST', '/viewer-tokens', { name: 'on-call' });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    expect(token).toMatch(/^tfv_[0-9a-f]{16}_/);
    const secret = Buffer.from(token.slice('tfv_0123456789abcdef_'.length));
    for (const file of ['tunnelfleet.db', 'tunnelfleet.db-wal']) {
      if (existsSync(join(fx.dataDir, file)))
        expect(readFileSync(join(fx.dataDir, file)).includes(secret)).toBe(false);
    }

    const { cookie, csrf, answer } = await signIn(token);
    expect(answer.body.session).toMatchObject({ role: 'viewer', name: 'on-call' });
    expect((await fx.request('GET', '/api/v1/admin/routes', { headers: withCookie(cookie) })).status).toBe(
      200,
    );
    const change = await fx.request('POST', '/api/v1/admin/keys', {
      body: { name: 'viewer-made', allowAnyHostname: true },
      headers: withCookie(cookie, { [CSRF_HEADER]: csrf }),
    });
    expect(change.status).toBe(403);
    expect(change.body.error.message).toContain('viewer');
    const reconcile = await fx.request('POST', '/api/v1/admin/reconcile', {
      headers: withCookie(cookie, { [CSRF_HEADER]: csrf }),
    });
    expect(reconcile.status).toBe(403);
    expect(
      (await fx.request('GET', '/api/v1/admin/viewer-tokens', { headers: withCookie(cookie) })).status,
    ).toBe(403);

    const revoked = await fx.admin('POST', `/viewer-tokens/${created.body.record.id}/revoke`);
    expect(revoked.body.token.revokedAt).not.toBeNull();
    expect((await fx.request('GET', '/api/v1/admin/routes', { headers: withCookie(cookie) })).status).toBe(
      401,
    );
    expect((await fx.request('POST', SESSION_PATH, { body: { token } })).status).toBe(401);
  });

  it('signs out only with the CSRF token, after which the cookie opens nothing', async () => {
    const { cookie, csrf } = await signIn(fx.adminToken);
    expect((await fx.request('DELETE', SESSION_PATH, { headers: withCookie(cookie) })).status).toBe(403);
    expect((await fx.request('GET', SESSION_PATH, { headers: withCookie(cookie) })).status).toBe(200);
    const out = await fx.request('DELETE', SESSION_PATH, {
      headers: withCookie(cookie, { [CSRF_HEADER]: csrf }),
    });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(new RegExp(`^${SESSION_COOKIE}=;`));
    expect((await fx.request('GET', SESSION_PATH, { headers: withCookie(cookie) })).status).toBe(401);
    expect((await fx.request('GET', '/api/v1/admin/agents', { headers: withCookie(cookie) })).status).toBe(
      401,
    );
    const audit = await fx.admin('GET', '/audit?action=session.logout');
    expect(audit.body.entries[0].actor).toMatch(/^dashboard:admin:/);
  });

  it('ends a session when it expires', async () => {
    const { cookie } = await signIn(fx.adminToken);
    fx.advanceClock(3600_000 + 1000);
    expect((await fx.request('GET', '/api/v1/admin/agents', { headers: withCookie(cookie) })).status).toBe(
      401,
    );
  });

  it('serves the app with a strict CSP, falls back to it for app paths, never shadows the API', async () => {
    const page = await fx.request('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain('unsafe-inline');
    expect((await fx.request('GET', '/agents/ag_1')).body).toContain('<div id="root">');
    const asset = await fx.request('GET', '/assets/app-abc123.js');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fx.request('GET', '/assets/missing.js')).status).toBe(404);
    const unknownApi = await fx.request('GET', '/api/v1/admin/no-such-thing', { token: fx.adminToken });
    expect(unknownApi.status).toBe(404);
    expect(unknownApi.body.error.code).toBe('not_found');
    expect((await fx.request('GET', '/api/v1/nothing')).body.error.code).toBe('not_found');
    expect((await fx.request('GET', '/healthz')).body).toMatchObject({ status: 'ok' });
  });
});

describe('dashboard sign-in limit', () => {
  it('limits failed sign-ins like failed API authentications, and still lets the admin in', async () => {
    const fx = await startMasterFixture();
    try {
      for (let i = 0; i < 20; i++) {
        expect((await fx.request('POST', SESSION_PATH, { body: { token: `tfa_guess_${i}` } })).status).toBe(
          401,
        );
      }
      const limited = await fx.request('POST', SESSION_PATH, { body: { token: 'tfa_guess' } });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await fx.request('POST', SESSION_PATH, { body: { token: fx.adminToken } })).status).toBe(201);
    } finally {
      await fx.close();
    }
  });
});
