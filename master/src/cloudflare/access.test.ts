import Cloudflare from 'cloudflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../../test/cloudflare-test-world.js';
import {
  ACCESS_APP_MARKER,
  ACCESS_POLICY_PREFIX,
  type AccessAppSpec,
  type NamedAccessPolicy,
} from './access.js';
import type { CloudflareLayer } from './cloudflare-layer.js';

describe('Access sync against the emulator', () => {
  let world: TestWorld;
  let layer: CloudflareLayer;
  // The emulator has no Access seeding helper: "someone else" uses the API with their own client.
  let operator: Cloudflare;

  beforeAll(async () => {
    world = await startTestWorld(['example.com']);
    layer = world.layer();
    operator = new Cloudflare({
      apiToken: world.defaultToken,
      baseURL: world.emulator.baseUrl,
      maxRetries: 0,
    });
  });
  afterAll(async () => {
    expect(world.emulator.specViolations()).toEqual([]);
    await world.close();
  });

  const account_id = () => world.accountId;
  const listApps = async () =>
    (await operator.zeroTrust.access.applications.list({ account_id: account_id() })).result;
  const listPolicies = async () =>
    (await operator.zeroTrust.access.policies.list({ account_id: account_id() })).result;
  const accessWrites = () => world.emulator.writes().filter((c) => c.path.includes('/access/'));

  it('creates, updates and deletes its apps; foreign apps and policies survive; no-op writes nothing', async () => {
    const foreignPolicy = await operator.zeroTrust.access.policies.create({
      account_id: account_id(),
      name: 'admins',
      decision: 'allow',
      include: [{ email: { email: 'root@example.com' } }],
    });
    const foreignApp = await operator.zeroTrust.access.applications.create({
      account_id: account_id(),
      type: 'self_hosted',
      domain: 'legacy.example.com',
      name: 'Legacy',
      policies: [{ id: foreignPolicy.id!, precedence: 1 }],
    });

    const desired: AccessAppSpec[] = [
      {
        hostname: 'app.example.com',
        policies: [
          {
            decision: 'allow',
            include: [{ email: { email: 'a@example.com' } }, { email: { email: 'b@example.com' } }],
          },
        ],
      },
      {
        hostname: 'app.example.com',
        path: '/admin',
        name: 'Admin',
        sessionDuration: '1h',
        policies: [{ decision: 'allow', include: [{ email_domain: { domain: 'example.com' } }] }],
        policyIds: [foreignPolicy.id!],
      },
      { hostname: 'hooks.example.com', policies: [{ decision: 'bypass', include: [{ everyone: {} }] }] },
    ];
    const created = await layer.syncAccessApps({ desired, ownedAppIds: [] });
    expect(Object.values(created.apps).map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(created.ownedAppIds).toHaveLength(3);
    const admin = (await listApps()).find(
      (a) => (a as { domain?: string }).domain === 'app.example.com/admin',
    ) as {
      name?: string;
      session_duration?: string;
      policies?: { id?: string }[];
    };
    expect(admin.name).toBe(`Admin${ACCESS_APP_MARKER}`);
    expect(admin.session_duration).toBe('1h');
    expect(admin.policies?.map((p) => p.id).at(-1)).toBe(foreignPolicy.id);

    world.emulator.clearCalls();
    const same = await layer.syncAccessApps({ desired, ownedAppIds: created.ownedAppIds });
    expect(same.ownedAppIds).toEqual(created.ownedAppIds);
    expect(world.emulator.writes()).toEqual([]);

    world.emulator.clearCalls();
    const changed: AccessAppSpec[] = [
      {
        hostname: 'app.example.com',
        policies: [{ decision: 'allow', include: [{ email: { email: 'a@example.com' } }] }],
      },
      desired[1]!,
    ];
    const updated = await layer.syncAccessApps({ desired: changed, ownedAppIds: same.ownedAppIds });
    expect(updated.apps['app.example.com']?.appId).toBe(created.apps['app.example.com']?.appId);
    expect(updated.deletedAppIds).toEqual([created.apps['hooks.example.com']?.appId]);
    // One new policy, one app PUT, one app DELETE, two unused policies deleted.
    expect(
      accessWrites()
        .map((c) => c.method)
        .sort(),
    ).toEqual(['DELETE', 'DELETE', 'DELETE', 'POST', 'PUT']);

    const cleared = await layer.syncAccessApps({ desired: [], ownedAppIds: updated.ownedAppIds });
    expect(cleared.ownedAppIds).toEqual([]);
    expect((await listApps()).map((a) => a.id)).toEqual([foreignApp.id]);
    expect((await listPolicies()).map((p) => p.name)).toEqual(['admins']);
  });

  it('reports a foreign app on a wanted domain as a conflict, and adopts it only when allowed', async () => {
    const theirs = await operator.zeroTrust.access.applications.create({
      account_id: account_id(),
      type: 'self_hosted',
      domain: 'wiki.example.com',
      name: 'Wiki',
    });
    const desired: AccessAppSpec[] = [
      { hostname: 'wiki.example.com', policies: [{ decision: 'allow', include: [{ everyone: {} }] }] },
    ];
    const conflict = await layer.syncAccessApps({ desired, ownedAppIds: [] });
    expect(conflict.apps['wiki.example.com']?.status).toBe('conflict');
    expect(conflict.ownedAppIds).toEqual([]);
    // Told it owns the foreign app's id, it still does not delete an app without its marker.
    await layer.syncAccessApps({ desired: [], ownedAppIds: [theirs.id!] });
    expect((await listApps()).filter((a) => a.id === theirs.id)).toHaveLength(1);

    const adopted = await layer.syncAccessApps({ desired, ownedAppIds: [], adopt: true });
    expect(adopted.apps['wiki.example.com']).toEqual({
      status: 'adopted',
      appId: theirs.id,
      aud: theirs.aud,
    });
    const app = (await listApps()).find((a) => a.id === theirs.id);
    expect(app?.name).toBe(`wiki.example.com${ACCESS_APP_MARKER}`);
    await layer.syncAccessApps({ desired: [], ownedAppIds: adopted.ownedAppIds });
    expect((await listApps()).filter((a) => a.id === theirs.id)).toEqual([]);
    expect((await listPolicies()).filter((p) => p.name?.startsWith(ACCESS_POLICY_PREFIX))).toEqual([]);
  });

  it('shares one reusable policy between apps with the same spec', async () => {
    const spec = { decision: 'allow' as const, include: [{ email: { email: 'team@example.com' } }] };
    const result = await layer.syncAccessApps({
      desired: [
        { hostname: 'one.example.com', policies: [spec] },
        { hostname: 'two.example.com', policies: [spec] },
      ],
      ownedAppIds: [],
    });
    expect((await listPolicies()).filter((p) => p.name?.startsWith(ACCESS_POLICY_PREFIX))).toHaveLength(1);
    await layer.syncAccessApps({ desired: [], ownedAppIds: result.ownedAppIds });
  });

  it('fails only the app whose label-written policy Cloudflare refuses', async () => {
    world.emulator.faults.set({
      failNext: { route: 'POST /accounts/:id/access/policies', status: 400, count: 1 },
    });
    const result = await layer.syncAccessApps({
      desired: [
        {
          hostname: 'refused.example.com',
          policies: [{ decision: 'allow', include: [{ group: { id: 'g1' } }] }],
        },
        { hostname: 'fine.example.com', policies: [{ decision: 'allow', include: [{ everyone: {} }] }] },
      ],
      ownedAppIds: [],
    });
    world.emulator.faults.clear();
    expect(result.apps['refused.example.com']).toMatchObject({ status: 'error' });
    expect(result.apps['refused.example.com']?.message).toMatch(/^Cloudflare refused the Access policy/);
    expect(result.apps['fine.example.com']).toMatchObject({ status: 'ok' });
    const domains = (await listApps()).map((a) => (a as { domain?: string }).domain);
    expect(domains).toContain('fine.example.com');
    expect(domains).not.toContain('refused.example.com');
    await layer.syncAccessApps({ desired: [], ownedAppIds: result.ownedAppIds });
  });

  it('pushes named policies, links them by name, and refuses to open an app whose policy Cloudflare refused', async () => {
    const ops = (email: string): NamedAccessPolicy => ({
      name: 'ops',
      decision: 'allow',
      include: [{ email: { email } }],
      require: [],
      exclude: [],
    });
    const desired: AccessAppSpec[] = [{ hostname: 'ops.example.com', namedPolicies: ['ops'] }];
    const first = await layer.syncAccessApps({
      desired,
      ownedAppIds: [],
      namedPolicies: [ops('a@example.com')],
    });
    const opsId = first.namedPolicyIds.ops!;
    const opsAt = async () => (await listPolicies()).find((p) => p.name === `ops${ACCESS_APP_MARKER}`);
    expect((await opsAt())?.id).toBe(opsId);
    const appOf = async () =>
      ((await listApps()) as { domain?: string; policies?: { id?: string }[] }[]).find(
        (a) => a.domain === 'ops.example.com',
      );
    expect((await appOf())?.policies?.map((p) => p.id)).toEqual([opsId]);

    // A caller that passes no named policies leaves them alone.
    await layer.syncAccessApps({ desired: [], ownedAppIds: first.ownedAppIds });
    expect((await opsAt())?.id).toBe(opsId);

    // An edit Cloudflare refuses: the app keeps its policy and is reported, the sync goes on.
    const created = await layer.syncAccessApps({
      desired,
      ownedAppIds: [],
      namedPolicies: [ops('a@example.com')],
    });
    world.emulator.faults.set({
      failNext: { route: 'PUT /accounts/:id/access/policies/:id', status: 400, count: 1 },
    });
    const refused = await layer.syncAccessApps({
      desired,
      ownedAppIds: created.ownedAppIds,
      namedPolicies: [ops('b@example.com')],
    });
    world.emulator.faults.clear();
    expect(refused.apps['ops.example.com']?.status).toBe('error');
    expect(refused.apps['ops.example.com']?.message).toContain(
      'Access policy "ops" was refused by Cloudflare',
    );
    expect(refused.ownedAppIds).toEqual(created.ownedAppIds);
    expect((await appOf())?.policies?.map((p) => p.id)).toEqual([opsId]);
    expect(JSON.stringify((await opsAt())?.include)).toContain('a@example.com');

    // Gone from the master: unlinked and deleted.
    await layer.syncAccessApps({ desired: [], ownedAppIds: created.ownedAppIds, namedPolicies: [] });
    expect(await opsAt()).toBeUndefined();
    expect(await appOf()).toBeUndefined();
  });
});
