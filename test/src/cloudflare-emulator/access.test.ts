import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EmulatorWorld, emulatorWithWorld } from './test-support.js';

describe('Access', () => {
  let w: EmulatorWorld;
  let apps: string;
  let policies: string;
  beforeEach(async () => {
    w = await emulatorWithWorld();
    apps = `/accounts/${w.account.id}/access/apps`;
    policies = `/accounts/${w.account.id}/access/policies`;
  });
  afterEach(() => w.emulator.close());

  const allowEmails = { name: 'team', decision: 'allow', include: [{ email: { email: 'a@example.com' } }] };

  it('creates, reads, updates and deletes reusable policies', async () => {
    const created = await w.api('POST', policies, allowEmails);
    expect(created.status).toBe(201);
    expect(created.body.result).toMatchObject({
      name: 'team',
      decision: 'allow',
      reusable: true,
      exclude: [],
    });
    const id = created.body.result.id;
    const updated = await w.api('PUT', `${policies}/${id}`, { ...allowEmails, decision: 'bypass' });
    expect(updated.body.result.decision).toBe('bypass');
    expect((await w.api('GET', policies)).body.result).toHaveLength(1);
    expect((await w.api('DELETE', `${policies}/${id}`)).status).toBe(202);
    expect((await w.api('GET', `${policies}/${id}`)).status).toBe(404);
  });

  it('validates policies', async () => {
    for (const body of [
      { ...allowEmails, decision: 'maybe' },
      { ...allowEmails, include: [] },
      { ...allowEmails, include: [{ email: {}, everyone: {} }] },
      { ...allowEmails, session_duration: 'forever' },
      { decision: 'allow', include: [{ everyone: {} }] },
    ]) {
      const reply = await w.api('POST', policies, body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.errors[0]?.message).toMatch(/^access\.api\.error\.invalid_request: /);
    }
  });

  it('creates a self-hosted app linked to reusable policies, and refuses to delete a policy in use', async () => {
    const policy = (await w.api('POST', policies, allowEmails)).body.result;
    const created = await w.api('POST', apps, {
      type: 'self_hosted',
      domain: 'app.example.com/admin',
      name: 'App admin',
      session_duration: '12h',
      policies: [{ id: policy.id, precedence: 1 }],
    });
    expect(created.status).toBe(201);
    expect(created.body.result).toMatchObject({ domain: 'app.example.com/admin', session_duration: '12h' });
    expect(created.body.result.policies[0]).toMatchObject({
      id: policy.id,
      precedence: 1,
      decision: 'allow',
    });
    expect(created.body.result.aud).toMatch(/^[0-9a-f]{64}$/);
    const inUse = await w.api('DELETE', `${policies}/${policy.id}`);
    expect(inUse.status).toBe(400);
    const id = created.body.result.id;
    const updated = await w.api('PUT', `${apps}/${id}`, { domain: 'app.example.com', policies: [policy.id] });
    expect(updated.body.result).toMatchObject({ name: 'app.example.com', session_duration: '24h' });
    expect((await w.api('GET', `${apps}?domain=app.example.com&exact=true`)).body.result).toHaveLength(1);
    expect((await w.api('DELETE', `${apps}/${id}`)).status).toBe(202);
    expect((await w.api('GET', `${apps}/${id}`)).status).toBe(404);
    expect((await w.api('DELETE', `${policies}/${policy.id}`)).status).toBe(202);
  });

  it('validates apps: domain in one of the account zones, duration, policy references', async () => {
    const cases = [
      { type: 'self_hosted', name: 'no domain' },
      { domain: 'app.elsewhere.net' },
      { domain: 'bad domain.example.com' },
      { domain: 'app.example.com', session_duration: '1 day' },
      { domain: 'app.example.com', policies: ['4a1d2f3e-0000-4000-8000-000000000000'] },
      { domain: 'app.example.com', type: 'nonsense' },
    ];
    for (const body of cases)
      expect((await w.api('POST', apps, body)).status, JSON.stringify(body)).toBe(400);
    expect(w.emulator.accessApps()).toEqual([]);
  });

  it('serves zone-scoped apps under /zones', async () => {
    const zoneApps = `/zones/${w.zone.id}/access/apps`;
    const created = await w.api('POST', zoneApps, { domain: 'z.example.com' });
    expect(created.status).toBe(201);
    expect((await w.api('POST', zoneApps, { domain: 'z.example.org' })).status).toBe(400);
    expect((await w.api('GET', zoneApps)).body.result).toHaveLength(1);
    expect((await w.api('GET', apps)).body.result).toHaveLength(0);
  });

  it('lists seeded foreign apps and service tokens', async () => {
    const foreign = w.emulator.seedAccessApp({ accountId: w.account.id }, { domain: 'manual.example.com' });
    expect((await w.api('GET', `${apps}/${foreign.id}`)).body.result.domain).toBe('manual.example.com');
    const tokens = `/accounts/${w.account.id}/access/service_tokens`;
    const token = await w.api('POST', tokens, { name: 'ci' });
    expect(token.body.result.client_secret).toEqual(expect.any(String));
    const read = await w.api('GET', `${tokens}/${token.body.result.id}`);
    expect(read.body.result).toMatchObject({ name: 'ci', client_id: token.body.result.client_id });
    expect(read.body.result.client_secret).toBeUndefined();
    expect((await w.api('GET', tokens)).body.result).toHaveLength(1);
  });
});
