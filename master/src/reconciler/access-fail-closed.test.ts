import { ACCESS_RULE_LISTS, ACCESS_SELECTOR_CASES, accessSelectorLabels, waitFor } from '@tunnelfleet/test';
import Cloudflare from 'cloudflare';
import { describe, expect, it } from 'vitest';
import {
  cnames,
  container,
  GRACE_SECONDS,
  ingressRules,
  type ReconcilerWorld,
  useReconcilerWorlds,
  webLabels,
} from '../../test/reconciler-test-world.js';
import { deleteAccessPolicy, insertAccessPolicy } from '../store/access-policies.js';
import { listRoutes } from '../store/routes.js';

const startWorld = useReconcilerWorlds();
let world: ReconcilerWorld;

interface Rule {
  hostname?: string;
  path?: string;
  service: string;
  originRequest?: { access?: { required: boolean; teamName: string; audTag: string[] } };
}

const rulesFor = (tunnelId: string, hostname: string) =>
  (ingressRules(world, tunnelId) as Rule[]).filter((r) => r.hostname === hostname);
interface App {
  id: string;
  domain: string;
  aud: string;
  policies: { name: string; decision: string; include: unknown[]; require: unknown[]; exclude: unknown[] }[];
}

const allApps = () => world.emulator.accessApps() as unknown as App[];
const appsOn = (domain: string) => allApps().filter((a) => a.domain === domain);
const routeOf = (hostname: string) => listRoutes(world.db).find((r) => r.hostname === hostname);

/** The team name of the emulated account's Access organization, read as any API client would. */
async function teamName(): Promise<string> {
  const client = new Cloudflare({ apiToken: world.cf.defaultToken, baseURL: world.emulator.baseUrl });
  const organization = await client.zeroTrust.organizations.list({ account_id: world.cf.accountId });
  return organization.auth_domain!.replace('.cloudflareaccess.com', '');
}

/** Nothing of the hostname is published: no CNAME, no ingress rule. */
function expectUnpublished(tunnelId: string, hostname: string) {
  expect(cnames(world, hostname)).toEqual([]);
  expect(rulesFor(tunnelId, hostname)).toEqual([]);
}

describe('Access fails closed', () => {
  it('builds require/exclude rules into the app, then publishes the rule carrying its audience tag', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    await world.report(
      agentId,
      container(
        'secure',
        webLabels('secure.example.com', {
          'tunnelfleet.access.emails': 'a@example.com,b@example.com',
          'tunnelfleet.access.require.email_domains': 'example.com',
          'tunnelfleet.access.exclude.countries': 'RU',
        }),
      ),
    );
    await waitFor(() => rulesFor(tunnelId, 'secure.example.com').length === 1, { description: 'the rule' });
    await waitFor(() => cnames(world, 'secure.example.com').length === 1, { description: 'the CNAME' });

    const [app] = appsOn('secure.example.com');
    expect(app).toBeDefined();
    const policies = app!.policies;
    expect(policies).toHaveLength(1);
    expect(policies[0]).toMatchObject({
      decision: 'allow',
      include: [{ email: { email: 'a@example.com' } }, { email: { email: 'b@example.com' } }],
      require: [{ email_domain: { domain: 'example.com' } }],
      exclude: [{ geo: { country_code: 'RU' } }],
    });
    expect(rulesFor(tunnelId, 'secure.example.com')[0]?.originRequest?.access).toEqual({
      required: true,
      teamName: await teamName(),
      audTag: [app!.aud],
    });
    await waitFor(() => routeOf('secure.example.com')?.status === 'active', { description: 'active' });
  });

  it('publishes nothing while Cloudflare refuses the app, and publishes once it accepts it', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    world.emulator.faults.set({
      failNext: { route: 'POST /accounts/:id/access/apps', status: 500, count: 1000 },
    });
    await world.report(
      agentId,
      container('locked', webLabels('locked.example.com', { 'tunnelfleet.access.emails': 'a@example.com' })),
    );
    await waitFor(() => routeOf('locked.example.com')?.status === 'error', { description: 'the error' });
    // A full reconcile syncs every target: the Access sync fails, the tunnel and zone publish nothing.
    const summary = await world.reconciler.reconcileNow();
    expect(summary.failed.map((f) => f.target)).toEqual(['access']);
    expectUnpublished(tunnelId, 'locked.example.com');
    expect(appsOn('locked.example.com')).toEqual([]);
    expect(routeOf('locked.example.com')?.statusMessage).toMatch(
      /not published until its Access is in place/,
    );

    world.emulator.faults.clear();
    await world.reconciler.reconcileNow();
    await waitFor(() => rulesFor(tunnelId, 'locked.example.com').length === 1, { description: 'the rule' });
    await waitFor(() => cnames(world, 'locked.example.com').length === 1, { description: 'the CNAME' });
    expect(appsOn('locked.example.com')).toHaveLength(1);
  });

  it('does not publish a route whose named policy is undefined, and publishes it once defined', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    await world.report(
      agentId,
      container('named', webLabels('named.example.com', { 'tunnelfleet.access.named_policy': 'staff' })),
    );
    await waitFor(() => routeOf('named.example.com')?.status === 'error', { description: 'the error' });
    await world.reconciler.reconcileNow();
    expectUnpublished(tunnelId, 'named.example.com');
    expect(routeOf('named.example.com')?.statusMessage).toBe(
      'Access policy "staff" is not defined on the master; the route is not published until its Access is in place',
    );

    insertAccessPolicy(world.db, {
      id: 'pol_staff',
      name: 'staff',
      spec: {
        decision: 'allow',
        include: [{ email_domain: { domain: 'example.com' } }],
        require: [],
        exclude: [],
      },
    });
    await world.reconciler.reconcileNow();
    await waitFor(() => rulesFor(tunnelId, 'named.example.com').length === 1, { description: 'the rule' });
    const [app] = appsOn('named.example.com');
    expect(app!.policies.map((p) => p.name)).toEqual(['staff [tunnelfleet]']);
    expect(rulesFor(tunnelId, 'named.example.com')[0]?.originRequest?.access?.audTag).toEqual([app!.aud]);
  });

  it('withdraws the routes of a named policy that disappears, never leaving them public', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    insertAccessPolicy(world.db, {
      id: 'pol_ops',
      name: 'ops',
      spec: {
        decision: 'allow',
        include: [{ email: { email: 'ops@example.com' } }],
        require: [],
        exclude: [],
      },
    });
    await world.report(
      agentId,
      container('ops', webLabels('ops.example.com', { 'tunnelfleet.access.named_policy': 'ops' })),
    );
    await waitFor(() => cnames(world, 'ops.example.com').length === 1, { description: 'the CNAME' });
    expect(rulesFor(tunnelId, 'ops.example.com')).toHaveLength(1);

    // The admin API refuses this while a route names the policy (409); the store can still lose it.
    deleteAccessPolicy(world.db, 'pol_ops');
    await world.reconciler.reconcileNow();
    await waitFor(() => appsOn('ops.example.com').length === 0, { description: 'the app removed last' });
    expectUnpublished(tunnelId, 'ops.example.com');
    expect(routeOf('ops.example.com')?.statusMessage).toBe(
      'Access policy "ops" is not defined on the master; the route is not published until its Access is in place',
    );
  });

  it('refuses Access on a path regex no app domain covers, and maps an anchored literal prefix', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    await world.report(
      agentId,
      container('paths', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.alt.hostname': 'paths.example.com',
        'tunnelfleet.alt.path': '^/(admin|api)',
        'tunnelfleet.alt.service': 'http://paths:80',
        'tunnelfleet.alt.access.emails': 'a@example.com',
        'tunnelfleet.admin.hostname': 'paths.example.com',
        'tunnelfleet.admin.path': '^/console',
        'tunnelfleet.admin.service': 'http://paths:81',
        'tunnelfleet.admin.access.emails': 'a@example.com',
      }),
    );
    await waitFor(() => rulesFor(tunnelId, 'paths.example.com').length === 1, { description: 'the rule' });
    await world.reconciler.reconcileNow();
    const rules = rulesFor(tunnelId, 'paths.example.com');
    expect(rules.map((r) => r.path)).toEqual(['^/console']);
    const [app] = appsOn('paths.example.com/console');
    expect(rules[0]?.originRequest?.access?.audTag).toEqual([app!.aud]);
    expect(allApps().map((a) => a.domain)).toEqual(['paths.example.com/console']);
    // The label parser refuses it, as the offline label checker does: the route is invalid.
    const refused = listRoutes(world.db).find((r) => r.routeKey === 'alt');
    expect(refused?.status).toBe('invalid');
    expect(refused?.statusMessage).toMatch(
      /tunnelfleet\.alt\.path: .*no Access application domain \(a path prefix\) covers exactly/,
    );
  });

  it('takes the rule and the CNAME away before the app, and re-guards a rule whose app was deleted by hand', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    const web = container(
      'gone',
      webLabels('gone.example.com', { 'tunnelfleet.access.emails': 'a@example.com' }),
    );
    await world.report(agentId, web);
    await waitFor(() => cnames(world, 'gone.example.com').length === 1, { description: 'the CNAME' });
    const [first] = appsOn('gone.example.com');

    // Deleted by hand: the next sync puts a new app in place and the rule follows its new audience.
    const client = new Cloudflare({ apiToken: world.cf.defaultToken, baseURL: world.emulator.baseUrl });
    await client.zeroTrust.access.applications.delete(first!.id, {
      account_id: world.cf.accountId,
    });
    await world.reconciler.reconcileNow();
    const [second] = appsOn('gone.example.com');
    expect(second!.aud).not.toBe(first!.aud);
    await waitFor(
      () => rulesFor(tunnelId, 'gone.example.com')[0]?.originRequest?.access?.audTag[0] === second!.aud,
      { description: 'the rule checking the new app' },
    );

    world.emulator.clearCalls();
    await world.remove(agentId, web.id);
    world.advance(GRACE_SECONDS + 1);
    await world.reconciler.reconcileNow();
    await waitFor(() => appsOn('gone.example.com').length === 0, { description: 'the app deleted' });
    expectUnpublished(tunnelId, 'gone.example.com');
    const writes = world.emulator.writes();
    const appDeleted = writes.findIndex((c) => c.route === 'DELETE /accounts/:id/access/apps/:id');
    const ruleRemoved = writes.findIndex(
      (c) => c.route === 'PUT /accounts/:id/cfd_tunnel/:id/configurations',
    );
    const recordDeleted = writes.findIndex((c) => c.path.includes('/dns_records'));
    expect(ruleRemoved).toBeGreaterThanOrEqual(0);
    expect(recordDeleted).toBeGreaterThanOrEqual(0);
    expect(appDeleted).toBeGreaterThan(ruleRemoved);
    expect(appDeleted).toBeGreaterThan(recordDeleted);
  });
});

describe('dropping Access from a published route', () => {
  it('is refused unless the labels say access.public=true', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    const guarded = container(
      'v1',
      webLabels('keep.example.com', { 'tunnelfleet.access.emails': 'a@example.com' }),
    );
    await world.report(agentId, guarded);
    await waitFor(() => cnames(world, 'keep.example.com').length === 1, { description: 'the CNAME' });
    expect(appsOn('keep.example.com')).toHaveLength(1);

    // The container is recreated with its access labels gone, as `docker compose up` does.
    await world.remove(agentId, guarded.id);
    const open = container('v2', webLabels('keep.example.com'));
    await world.report(agentId, open);
    const refused = listRoutes(world.db).find((r) => r.containerId === open.id);
    expect(refused?.status).toBe('invalid');
    expect(refused?.statusMessage).toMatch(/drop the Access of keep\.example\.com.*access\.public=true/);
    // The refusal holds once the old container's grace period is over: nothing turns public.
    world.advance(GRACE_SECONDS + 1);
    await world.reconciler.reconcileNow();
    expect(listRoutes(world.db).find((r) => r.containerId === open.id)?.status).toBe('invalid');
    expect(rulesFor(tunnelId, 'keep.example.com').filter((r) => !r.originRequest?.access)).toEqual([]);
    await waitFor(() => appsOn('keep.example.com').length === 0, { description: 'the old app removed' });
    expectUnpublished(tunnelId, 'keep.example.com');

    await world.remove(agentId, open.id);
    const explicit = container('v3', webLabels('keep.example.com', { 'tunnelfleet.access.public': 'true' }));
    await world.report(agentId, explicit);
    await waitFor(
      () => rulesFor(tunnelId, 'keep.example.com').some((r) => r.originRequest?.access === undefined),
      { description: 'the public rule' },
    );
    expect(appsOn('keep.example.com')).toEqual([]);
    expect(listRoutes(world.db).find((r) => r.containerId === explicit.id)?.status).toBe('active');
  });
});

describe('every selector the labels accept', () => {
  it('builds each in include, require and exclude, and publishes each route behind its app', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    const labels = accessSelectorLabels('example.com');
    await world.report(agentId, container('selectors', labels));
    const expected = ACCESS_SELECTOR_CASES.length * ACCESS_RULE_LISTS.length;
    await waitFor(() => hostnamesWithAccess(tunnelId).length === expected, {
      description: `${expected} protected rules`,
    });

    for (const [name, , , rule] of ACCESS_SELECTOR_CASES) {
      for (const [short, list] of ACCESS_RULE_LISTS) {
        const hostname = `${short}-${name}.example.com`;
        const [app] = appsOn(hostname);
        expect(app?.policies, hostname).toHaveLength(1);
        expect(app!.policies[0]![list], `${hostname} ${list}`).toContainEqual(rule);
        expect(rulesFor(tunnelId, hostname)[0]?.originRequest?.access?.audTag).toEqual([app!.aud]);
      }
    }
  });

  it("builds DockFlare's access.custom_rules policies", async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    const custom = [
      {
        decision: 'allow',
        include: [{ email_domain: { domain: 'example.com' } }],
        require: [{ geo: { country_code: 'DE' } }],
      },
      { decision: 'deny', include: [{ ip: { ip: '192.0.2.0/24' } }] },
    ];
    await world.report(
      agentId,
      container('legacy', {
        'dockflare.enable': 'true',
        'dockflare.hostname': 'legacy.example.com',
        'dockflare.service': 'http://legacy:80',
        'dockflare.access.policy': 'custom',
        'dockflare.access.custom_rules': JSON.stringify(custom),
      }),
    );
    await waitFor(() => rulesFor(tunnelId, 'legacy.example.com').length === 1, { description: 'the rule' });
    const [app] = appsOn('legacy.example.com');
    expect(app!.policies.map((p) => [p.decision, p.include, p.require, p.exclude])).toEqual([
      ['allow', custom[0]!.include, custom[0]!.require, []],
      ['deny', custom[1]!.include, [], []],
    ]);
  });
});

function hostnamesWithAccess(tunnelId: string): string[] {
  return (ingressRules(world, tunnelId) as Rule[]).flatMap((r) =>
    r.hostname && r.originRequest?.access ? [r.hostname] : [],
  );
}

describe("DockFlare's zone default policy (access.policy=default_tld)", () => {
  const cloudflareClient = () =>
    new Cloudflare({ apiToken: world.cf.defaultToken, baseURL: world.emulator.baseUrl });

  /** The operator's `*.example.com` app with one reusable policy, made as any API client would. */
  async function createZoneDefaultApp(): Promise<{ id: string; aud: string }> {
    const account_id = world.cf.accountId;
    const policy = await cloudflareClient().zeroTrust.access.policies.create({
      account_id,
      name: 'staff (zone default)',
      decision: 'allow',
      include: [{ email_domain: { domain: 'example.com' } }],
    });
    const app = await cloudflareClient().zeroTrust.access.applications.create({
      account_id,
      type: 'self_hosted',
      domain: '*.example.com',
      name: 'example.com zone default',
      policies: [{ id: policy.id!, precedence: 1 }],
    } as never);
    return { id: (app as { id: string }).id, aud: (app as { aud: string }).aud };
  }

  const dockflare = {
    'dockflare.enable': 'true',
    'dockflare.hostname': 'tld.example.com',
    'dockflare.service': 'http://web:80',
    'dockflare.access.policy': 'default_tld',
    'dockflare.0.hostname': 'deep.sub.example.com',
  };

  it("publishes only behind the zone's *.<zone> app, checking its audience, and withdraws when it goes", async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    await world.report(agentId, container('zone', dockflare));
    await waitFor(() => routeOf('tld.example.com')?.status === 'error', { description: 'the error' });
    await world.reconciler.reconcileNow();
    // DockFlare publishes such a route without Access when the zone has no default app: not here.
    expectUnpublished(tunnelId, 'tld.example.com');
    expect(routeOf('tld.example.com')?.statusMessage).toBe(
      "access.policy=default_tld: there is no Access application on *.example.com (DockFlare's zone default policy): create one; the route is not published until its Access is in place",
    );

    const zoneApp = await createZoneDefaultApp();
    await world.reconciler.reconcileNow();
    await waitFor(() => rulesFor(tunnelId, 'tld.example.com').length === 1, { description: 'the rule' });
    await waitFor(() => cnames(world, 'tld.example.com').length === 1, { description: 'the CNAME' });
    expect(rulesFor(tunnelId, 'tld.example.com')[0]?.originRequest?.access).toEqual({
      required: true,
      teamName: await teamName(),
      audTag: [zoneApp.aud],
    });
    // No app of its own, and the operator's app untouched.
    expect(appsOn('tld.example.com')).toEqual([]);
    expect(appsOn('*.example.com').map((a) => a.id)).toEqual([zoneApp.id]);
    // *.example.com does not cover a name two labels below the zone.
    expectUnpublished(tunnelId, 'deep.sub.example.com');
    expect(routeOf('deep.sub.example.com')?.statusMessage).toBe(
      "access.policy=default_tld: deep.sub.example.com is not one label below its zone example.com, so the zone's *.<zone> Access application does not cover it; the route is not published until its Access is in place",
    );

    await cloudflareClient().zeroTrust.access.applications.delete(zoneApp.id, {
      account_id: world.cf.accountId,
    });
    await world.reconciler.reconcileNow();
    await waitFor(() => rulesFor(tunnelId, 'tld.example.com').length === 0, { description: 'withdrawn' });
    expectUnpublished(tunnelId, 'tld.example.com');
    expect(routeOf('tld.example.com')?.status).toBe('error');
  });

  it('is not guarded by a zone default app with no policy, nor by two of them', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    const account_id = world.cf.accountId;
    const empty = await cloudflareClient().zeroTrust.access.applications.create({
      account_id,
      type: 'self_hosted',
      domain: '*.example.com',
      name: 'no policy',
    } as never);
    await world.report(agentId, container('zone', dockflare));
    await world.reconciler.reconcileNow();
    expectUnpublished(tunnelId, 'tld.example.com');
    expect(routeOf('tld.example.com')?.statusMessage).toMatch(
      /^access\.policy=default_tld: the Access application on \*\.example\.com has no policy;/,
    );

    await createZoneDefaultApp();
    await world.reconciler.reconcileNow();
    expectUnpublished(tunnelId, 'tld.example.com');
    expect(routeOf('tld.example.com')?.statusMessage).toMatch(
      /^access\.policy=default_tld: 2 Access applications are on \*\.example\.com: keep one;/,
    );

    await cloudflareClient().zeroTrust.access.applications.delete((empty as { id: string }).id, {
      account_id,
    });
    await world.reconciler.reconcileNow();
    await waitFor(() => rulesFor(tunnelId, 'tld.example.com').length === 1, { description: 'the rule' });
  });
});
