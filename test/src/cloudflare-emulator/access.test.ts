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

  it('takes app domains with paths and wildcards as Cloudflare does, and refuses the rest', async () => {
    for (const domain of [
      'app.example.com/admin',
      'app.example.com/admin/*',
      'app.example.com/*/settings',
      '*.example.com',
      '*.apps.example.com/api',
      '*-dev.example.com',
      'app*.example.com',
      'example.com',
      'app.example.com/a-b_c.d~e/%20',
    ]) {
      const reply = await w.api('POST', apps, { domain });
      expect(reply.status, domain).toBe(201);
      expect(reply.body.result.domain).toBe(domain);
    }
    for (const [domain, reason] of [
      ['*.com', 'does not belong to a zone of this account'],
      ['*example.com', 'does not belong to a zone of this account'],
      ['app.*.example.com/x?y=1', 'may not hold a scheme, spaces, a query or a fragment'],
      ['https://app.example.com', 'may not hold a scheme, spaces, a query or a fragment'],
      ['app.example.com/admin#top', 'may not hold a scheme, spaces, a query or a fragment'],
      ['app.example.com/(admin|api)', 'has an invalid path /(admin|api)'],
      ['app.example.com/\\.php$', 'has an invalid path /\\.php$'],
      ['app..example.com', 'is not a valid hostname'],
      ['-app.example.com', 'is not a valid hostname'],
      ['app.exa*mple.com', 'does not belong to a zone of this account'],
      ['x.*.*.example.com/a b', 'may not hold a scheme, spaces, a query or a fragment'],
    ] as const) {
      const reply = await w.api('POST', apps, { domain });
      expect(reply.status, domain).toBe(400);
      expect(reply.body.errors[0]?.message).toBe(
        `access.api.error.invalid_request: domain ${domain} ${reason}`,
      );
    }
  });

  it("orders an app's reusable policies by precedence, unique within the app", async () => {
    const [first, second, third] = await Promise.all(
      ['one', 'two', 'three'].map(
        async (name) => (await w.api('POST', policies, { ...allowEmails, name })).body.result,
      ),
    );
    const created = await w.api('POST', apps, {
      domain: 'ordered.example.com',
      policies: [
        { id: first.id, precedence: 3 },
        { id: second.id, precedence: 1 },
        { id: third.id, precedence: 2 },
      ],
    });
    expect(created.status).toBe(201);
    const read = await w.api('GET', `${apps}/${created.body.result.id}`);
    expect(
      read.body.result.policies.map((p: { name: string; precedence: number }) => [p.name, p.precedence]),
    ).toEqual([
      ['two', 1],
      ['three', 2],
      ['one', 3],
    ]);
    // Without precedences the list order is the order of evaluation.
    const listed = await w.api('POST', apps, {
      domain: 'listed.example.com',
      policies: [third.id, first.id],
    });
    expect(listed.body.result.policies.map((p: { name: string }) => p.name)).toEqual(['three', 'one']);

    for (const [links, reason] of [
      [
        [
          { id: first.id, precedence: 1 },
          { id: second.id, precedence: 1 },
        ],
        'policies[1].precedence 1 must be unique within the application',
      ],
      [[{ id: first.id, precedence: 0 }], 'policies[0].precedence must be a positive integer'],
      [[{ id: first.id, precedence: 1.5 }], 'policies[0].precedence must be a positive integer'],
      [[first.id, first.id], `policy ${first.id} is linked twice`],
    ] as const) {
      const reply = await w.api('POST', apps, { domain: 'bad.example.com', policies: links });
      expect(reply.status, reason).toBe(400);
      expect(reply.body.errors[0]?.message).toBe(`access.api.error.invalid_request: ${reason}`);
    }
  });

  it('takes every rule type the OpenAPI description lists, in include, require and exclude', async () => {
    const valid: Record<string, unknown>[] = [
      { email: { email: 'a@example.com' } },
      { email_domain: { domain: 'example.com' } },
      { email_list: { id: '4a1d2f3e-0000-4000-8000-000000000001' } },
      { everyone: {} },
      { ip: { ip: '10.0.0.0/8' } },
      { ip: { ip: '2400:cb00:21:10a::/64' } },
      { ip: { ip: '192.0.2.7/32' } },
      { ip_list: { id: '4a1d2f3e-0000-4000-8000-000000000002' } },
      { geo: { country_code: 'RU' } },
      { certificate: {} },
      { common_name: { common_name: 'device1.example.com' } },
      { group: { id: '4a1d2f3e-0000-4000-8000-000000000003' } },
      { service_token: { token_id: '4a1d2f3e-0000-4000-8000-000000000004' } },
      { any_valid_service_token: {} },
      { login_method: { id: '4a1d2f3e-0000-4000-8000-000000000005' } },
      { auth_method: { auth_method: 'mfa' } },
      { device_posture: { integration_uid: '4a1d2f3e-0000-4000-8000-000000000006' } },
      { 'github-organization': { identity_provider_id: 'idp', name: 'acme' } },
      { okta: { identity_provider_id: 'idp', name: 'admins' } },
    ];
    for (const rule of valid) {
      for (const field of ['include', 'require', 'exclude']) {
        const body = { name: `r-${field}`, decision: 'allow', include: [{ everyone: {} }], [field]: [rule] };
        const reply = await w.api('POST', policies, body);
        expect(reply.status, `${field} ${JSON.stringify(rule)}`).toBe(201);
        expect(reply.body.result[field]).toEqual([rule]);
      }
    }
  });

  it('refuses a rule whose type the description does not list or whose value does not match it', async () => {
    for (const [rule, reason] of [
      [{ emails: { email: 'a@example.com' } }, 'has an unknown rule type "emails"'],
      [{ email: {} }, "email must have required property 'email'"],
      [{ email: { email: 'not an address' } }, 'email/email must match format "email"'],
      [{ email_domain: { domain: 7 } }, 'email_domain/domain must be string'],
      [{ ip: { ip: '10.0.0.0/33' } }, '10.0.0.0/33 has a prefix length outside 0–32'],
      [{ ip: { ip: 'localhost' } }, 'localhost is not an IPv4 or IPv6 CIDR block'],
      [{ ip: { ip: '192.0.2.7' } }, '192.0.2.7 is not an IPv4 or IPv6 CIDR block'],
      [
        { geo: { country_code: 'russia' } },
        'geo.country_code "russia" is not a two-letter upper-case country code',
      ],
      [{ group: { name: 'staff' } }, "group must have required property 'id'"],
      [{ everyone: 'yes' }, 'everyone must be object'],
      [{ email: { email: 'a@example.com' }, everyone: {} }, 'must be an object with exactly one rule type'],
    ] as const) {
      for (const field of ['include', 'exclude']) {
        const body = { name: 'bad', decision: 'allow', include: [{ everyone: {} }], [field]: [rule] };
        const reply = await w.api('POST', policies, body);
        expect(reply.status, JSON.stringify(rule)).toBe(400);
        expect(reply.body.errors[0]?.message).toBe(`access.api.error.invalid_request: ${field}[0] ${reason}`);
      }
    }
    expect((await w.api('GET', policies)).body.result).toEqual([]);
  });
});
