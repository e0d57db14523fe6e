import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_ROUTES } from '@tunnelfleet/common';
import { type RedisServerHandle, startRedisServer } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';
import { checkAgentHostname } from '../agents/hostname-guard.js';
import { hashSecret } from '../keys/secret-hash.js';
import { getSetting, SETTING_KEYS } from '../store/settings.js';

describe('admin token generated at first start', () => {
  let redis: RedisServerHandle;
  let dataDir: string;
  beforeAll(async () => {
    redis = await startRedisServer();
    dataDir = mkdtempSync(join(tmpdir(), 'tunnelfleet-first-start-'));
  });
  afterAll(async () => {
    await redis?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is written once to a 0600 file in the data dir, never to the output, works, is stored as a hash only, and survives a restart', async () => {
    const printed: string[] = [];
    const first = await startMasterFixture({
      adminToken: null,
      redis,
      dataDir,
      printAdminToken: (t) => printed.push(t),
    });
    expect(printed).toHaveLength(1);
    const file = join(dataDir, 'admin-token');
    expect(printed[0]).toContain(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^tfa_[A-Za-z0-9_-]{43}$/);
    expect(printed[0]).not.toContain(token);
    const listed = await first.request('GET', '/api/v1/admin/agents', { token });
    expect(listed.status).toBe(200);
    expect(getSetting(first.master.db, SETTING_KEYS.adminTokenHash)).toBe(hashSecret(token));
    first.master.db.pragma('wal_checkpoint(TRUNCATE)');
    await first.close();
    const bytes = readdirSync(dataDir)
      .filter((name) => name !== 'admin-token')
      .map((name) => readFileSync(join(dataDir, name)).toString('latin1'))
      .join('');
    expect(bytes).not.toContain(token);
    rmSync(file);

    const again: string[] = [];
    const second = await startMasterFixture({
      adminToken: null,
      redis,
      dataDir,
      printAdminToken: (t) => again.push(t),
    });
    expect(again).toHaveLength(0);
    expect((await second.request('GET', '/api/v1/admin/agents', { token })).status).toBe(200);
    expect(existsSync(file)).toBe(false);
    await second.close();
  });
});

describe('operations endpoints and admin resources', () => {
  let fx: MasterFixture;
  beforeAll(async () => {
    fx = await startMasterFixture();
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('/healthz answers and /readyz reports SQLite, Redis and Cloudflare each', async () => {
    expect((await fx.request('GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await fx.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({
      status: 'ready',
      checks: { sqlite: { ok: true }, redis: { ok: true }, cloudflare: { ok: true } },
    });
  });

  it('/readyz reports a refused Cloudflare token as unready', async () => {
    const down = await startMasterFixture();
    try {
      down.emulator.faults.set({ failNext: { route: '*', status: 403, count: 10 } });
      const cloudflareDown = await down.request('GET', '/readyz');
      expect(cloudflareDown.status).toBe(503);
      expect(cloudflareDown.body.checks.cloudflare.ok).toBe(false);
      expect(cloudflareDown.body.checks.redis.ok).toBe(true);
    } finally {
      await down.close();
    }
  });

  it('/readyz, unauthenticated, cannot spend the Cloudflare budget: 200 probes, one token check', async () => {
    const isVerify = (call: { path: string }) => call.path.endsWith('/user/tokens/verify');
    const before = fx.emulator.calls().filter(isVerify).length;
    const answers = await Promise.all(Array.from({ length: 200 }, () => fx.request('GET', '/readyz')));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    expect(fx.emulator.calls().filter(isVerify).length - before).toBeLessThanOrEqual(1);
  });

  it('/metrics requires METRICS_TOKEN when one is set', async () => {
    const metricsToken = 'm'.repeat(40);
    const guarded = await startMasterFixture({ env: { METRICS_TOKEN: metricsToken } });
    try {
      expect((await guarded.request('GET', '/metrics')).status).toBe(401);
      expect((await guarded.request('GET', '/metrics', { token: 'n'.repeat(40) })).status).toBe(401);
      const allowed = await guarded.request('GET', '/metrics', { token: metricsToken });
      expect(allowed.status).toBe(200);
      expect(allowed.body).toContain('tunnelfleet_agents_online');
    } finally {
      await guarded.close();
    }
  });

  it('/metrics exposes the named series', async () => {
    const agent = await fx.enrollAgent({ name: 'metrics' });
    await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=5`, { token: agent.key });
    const text = (await fx.request('GET', '/metrics')).body as string;
    for (const series of [
      'tunnelfleet_routes{status="active"} 0',
      'tunnelfleet_agents_online 1',
      'tunnelfleet_agents{status="approved"} 1',
      'tunnelfleet_commands_queued_total 1',
      'tunnelfleet_commands_delivered_total{delivery="first"} 1',
      'tunnelfleet_cloudflare_calls_total{token=',
      '# TYPE tunnelfleet_reconcile_duration_seconds histogram',
    ]) {
      expect(text).toContain(series);
    }
  });

  it('serves an OpenAPI description of both APIs', async () => {
    const doc = (await fx.request('GET', '/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/agent/register',
        '/api/v1/agent/commands/{id}/ack',
        '/api/v1/admin/keys',
        '/api/v1/admin/agents/{id}/revoke',
        '/api/v1/admin/access-policies/{id}',
      ]),
    );
    const keyBody = doc.paths['/api/v1/admin/keys'].post.requestBody.content['application/json'].schema;
    expect(JSON.stringify(keyBody)).toContain('hostnameAllowlist');
  });

  it('enforces a key allowlist on the hostnames its agent may claim', async () => {
    const created = await fx.admin('POST', '/keys', {
      name: 'apps',
      hostnameAllowlist: ['*.apps.example.com'],
    });
    const registered = await fx.request('POST', AGENT_ROUTES.register, {
      token: created.body.key,
      body: registerBody(),
    });
    expect(registered.body.allowedHostnames).toEqual(['*.apps.example.com']);
    const agentId = registered.body.agentId as string;
    expect(checkAgentHostname(fx.master.db, agentId, 'web.apps.example.com')).toEqual({ allowed: true });
    const refused = checkAgentHostname(fx.master.db, agentId, 'web.example.com');
    expect(refused).toMatchObject({ allowed: false });
    await fx.admin('POST', `/agents/${agentId}/revoke`);
    expect(checkAgentHostname(fx.master.db, agentId, 'web.apps.example.com').allowed).toBe(false);
  });

  it('creates a key only with a hostname scope, and says which one it got', async () => {
    const unscoped = await fx.admin('POST', '/keys', { name: 'unscoped' });
    expect(unscoped.status).toBe(400);
    expect(unscoped.body.error.message).toContain('hostnameAllowlist');
    expect(unscoped.body.error.message).toContain('allowAnyHostname: true');
    const both = await fx.admin('POST', '/keys', {
      name: 'both',
      hostnameAllowlist: ['web.example.com'],
      allowAnyHostname: true,
    });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toContain('not both');
    const names = (await fx.admin('GET', '/keys')).body.keys.map((k: { name: string }) => k.name);
    expect(names).not.toContain('unscoped');
    expect(names).not.toContain('both');

    const anyHost = await fx.admin('POST', '/keys', { name: 'any', allowAnyHostname: true });
    expect(anyHost.status).toBe(201);
    expect(anyHost.body.record).toMatchObject({ hostnameAllowlist: [], allowAnyHostname: true });
    const registered = await fx.request('POST', AGENT_ROUTES.register, {
      token: anyHost.body.key,
      body: registerBody(),
    });
    expect(registered.body.allowedHostnames).toBeNull();
    const agentId = registered.body.agentId as string;
    expect(checkAgentHostname(fx.master.db, agentId, 'login.example.com')).toEqual({ allowed: true });
    expect(checkAgentHostname(fx.master.db, agentId, '*.example.com')).toMatchObject({ allowed: false });
    const audit = await fx.admin('GET', '/audit?action=key.create');
    expect(audit.body.entries[0].details).toMatchObject({ allowAnyHostname: true, hostnameAllowlist: [] });
  });

  it('manages named Access policies and records each change in the paged audit log', async () => {
    const spec = { decision: 'allow', include: [{ email_domain: { domain: 'example.com' } }] };
    const created = await fx.admin('POST', '/access-policies', { name: 'staff', spec });
    expect(created.status).toBe(201);
    const id = created.body.policy.id as string;
    expect(created.body.policy.spec).toEqual({ ...spec, require: [], exclude: [] });
    expect((await fx.admin('POST', '/access-policies', { name: 'staff', spec })).status).toBe(409);
    const renamed = await fx.admin('PUT', `/access-policies/${id}`, { name: 'employees' });
    expect(renamed.body.policy.name).toBe('employees');
    expect((await fx.admin('GET', '/access-policies')).body.policies).toHaveLength(1);
    expect((await fx.admin('DELETE', `/access-policies/${id}`)).status).toBe(204);
    expect((await fx.admin('GET', `/access-policies/${id}`)).status).toBe(404);

    const first = await fx.admin('GET', '/audit?limit=2');
    expect(first.body.entries.map((e: { action: string }) => e.action)).toEqual([
      'access_policy.delete',
      'access_policy.update',
    ]);
    const second = await fx.admin('GET', `/audit?limit=2&before=${first.body.nextBefore}`);
    expect(second.body.entries[0].action).toBe('access_policy.create');
  });

  it('queues a reconcile through the hook and lists conflicts', async () => {
    const reconcile = await fx.admin('POST', '/reconcile');
    expect(reconcile).toMatchObject({ status: 202, body: { accepted: true } });
    expect((await fx.admin('GET', '/conflicts')).body).toEqual({ conflicts: [] });
  });
});
