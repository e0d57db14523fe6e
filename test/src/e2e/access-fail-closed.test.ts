import { describe, expect, it } from 'vitest';
import {
  ACCESS_RULE_LISTS,
  ACCESS_SELECTOR_CASES,
  accessSelectorLabels,
} from '../fixtures/access-selectors.js';
import { waitFor } from '../harness/wait-for.js';
import {
  CONVERGE_TIMEOUT_MS,
  cloudView,
  publishLabels,
  routesOf,
  rulesFor,
  uniqueHostname,
  useFleet,
  waitPublished,
} from './support.js';

const fleet = useFleet({ secondEngine: 'docker16' });

interface ProtectedRule {
  originRequest?: { access?: { required: boolean; teamName: string; audTag: string[] } };
}

interface AppView {
  domain: string;
  aud: string;
  policies: { name: string; decision: string; include: unknown[]; require: unknown[]; exclude: unknown[] }[];
}

const appOn = (hostname: string) =>
  (fleet().emulator.accessApps() as unknown as AppView[]).find((a) => a.domain === hostname);

/** The route's status once the master gave up on its Access, as the admin API shows it. */
async function waitRouteError(hostname: string, message: RegExp) {
  return waitFor(
    async () => {
      const [route] = await routesOf(fleet(), hostname);
      return route?.status === 'error' && message.test(route.statusMessage ?? '') ? route : undefined;
    },
    { description: `${hostname} in error`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
}

/** How many full reconciles the master has finished, as its log says. */
const reconciles = async () => (await fleet().master.logs()).split('full reconcile done').length;

/** Runs a full reconcile and waits for it (it runs in the background: 202). */
async function fullReconcile() {
  const before = await reconciles();
  await fleet().admin.reconcile();
  await waitFor(async () => (await reconciles()) > before, {
    description: 'the full reconcile (Access, then every tunnel and zone) to finish',
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
}

/** Nothing of the hostname at Cloudflare after a full reconcile: no CNAME, no ingress rule. */
async function expectUnpublishedAfterReconcile(hostname: string) {
  await fullReconcile();
  const view = cloudView(fleet());
  expect(view.records.filter((r) => r.name === hostname)).toEqual([]);
  expect(rulesFor(view, hostname)).toEqual([]);
}

describe('Access never fails open', { timeout: 180_000 }, () => {
  it('publishes the measured cases only behind their apps, each rule checking its app audience', async () => {
    const secure = uniqueHostname('secure');
    const named = uniqueHostname('named');
    const created = await fleet().admin.request('POST', '/access-policies', {
      name: 'staff',
      spec: { decision: 'allow', include: [{ email_domain: { domain: 'example.com' } }] },
    });
    expect(created.status).toBe(201);
    await Promise.all([
      fleet().a.runContainer({
        labels: publishLabels(secure, {
          'tunnelfleet.access.emails': 'a@example.com,b@example.com',
          'tunnelfleet.access.exclude.countries': 'RU',
        }),
      }),
      fleet().b.runContainer({
        labels: publishLabels(named, { 'tunnelfleet.access.named_policy': 'staff' }),
      }),
    ]);
    const [pubSecure, pubNamed] = await Promise.all([
      waitPublished(fleet(), fleet().a, secure, { access: true }),
      waitPublished(fleet(), fleet().b, named, { access: true }),
    ]);

    const secureApp = appOn(secure)!;
    expect(secureApp.policies).toHaveLength(1);
    expect(secureApp.policies[0]).toMatchObject({
      decision: 'allow',
      include: [{ email: { email: 'a@example.com' } }, { email: { email: 'b@example.com' } }],
      exclude: [{ geo: { country_code: 'RU' } }],
    });
    const namedApp = appOn(named)!;
    expect(namedApp.policies.map((p) => p.name)).toEqual(['staff [tunnelfleet]']);

    for (const [publication, app] of [
      [pubSecure, secureApp],
      [pubNamed, namedApp],
    ] as const) {
      const access = (publication.rule as ProtectedRule).originRequest?.access;
      expect(access).toMatchObject({ required: true, audTag: [app.aud] });
      expect(access?.teamName).toMatch(/^team-[0-9a-f]{8}$/);
    }
    for (const hostname of [secure, named]) {
      const [route] = await routesOf(fleet(), hostname);
      expect(route?.status).toBe('active');
    }
  });

  it('publishes no CNAME and no rule while Cloudflare refuses the app', async () => {
    const locked = uniqueHostname('locked');
    fleet().emulator.faults.set({
      failNext: { route: 'POST /accounts/:id/access/apps', status: 500, count: 100_000 },
    });
    try {
      await fleet().a.runContainer({
        labels: publishLabels(locked, { 'tunnelfleet.access.emails': 'a@example.com' }),
      });
      await waitRouteError(locked, /not published until its Access is in place/);
      await expectUnpublishedAfterReconcile(locked);
      expect(appOn(locked)).toBeUndefined();
    } finally {
      fleet().emulator.faults.clear();
    }
    await fleet().admin.reconcile();
    const publication = await waitPublished(fleet(), fleet().a, locked, { access: true });
    expect((publication.rule as ProtectedRule).originRequest?.access?.audTag).toEqual([appOn(locked)!.aud]);
  });

  it('does not publish a route whose named policy is not defined', async () => {
    const orphan = uniqueHostname('orphan');
    await fleet().b.runContainer({
      labels: publishLabels(orphan, { 'tunnelfleet.access.named_policy': 'nobody-defined-this' }),
    });
    const route = await waitRouteError(orphan, /Access policy "nobody-defined-this" is not defined/);
    expect(route.statusMessage).toBe(
      'Access policy "nobody-defined-this" is not defined on the master; the route is not published until its Access is in place',
    );
    await expectUnpublishedAfterReconcile(orphan);
  });

  it('pushes an edited named policy to Cloudflare without a reconcile, and refuses to delete one in use', async () => {
    const guarded = uniqueHostname('editors');
    const created = await fleet().admin.request('POST', '/access-policies', {
      name: 'editors',
      spec: { decision: 'allow', include: [{ email: { email: 'old@example.com' } }] },
    });
    expect(created.status).toBe(201);
    const policyId = (created.body as { policy: { id: string } }).policy.id;
    await fleet().b.runContainer({
      labels: publishLabels(guarded, { 'tunnelfleet.access.named_policy': 'editors' }),
    });
    const publication = await waitPublished(fleet(), fleet().b, guarded, { access: true });
    const app = appOn(guarded)!;
    const before = await reconciles();

    const edited = await fleet().admin.request('PUT', `/access-policies/${policyId}`, {
      spec: { decision: 'allow', include: [{ email: { email: 'new@example.com' } }] },
    });
    expect(edited.status).toBe(200);
    // The per-target sync carries it (within SYNC_DEBOUNCE_MS), not a full reconcile.
    await waitFor(() => JSON.stringify(appOn(guarded)?.policies[0]?.include).includes('new@example.com'), {
      description: 'the edited rule in the app at Cloudflare',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    expect(await reconciles()).toBe(before);
    expect(appOn(guarded)).toMatchObject({ aud: app.aud, policies: [{ name: 'editors [tunnelfleet]' }] });

    // Deleting a policy a route names would leave the route without its app: refused, nothing moves.
    const refused = await fleet().admin.request('DELETE', `/access-policies/${policyId}`);
    expect(refused.status).toBe(409);
    expect(JSON.stringify(refused.body)).toContain(guarded);
    await fullReconcile();
    const after = cloudView(fleet());
    expect(rulesFor(after, guarded)).toEqual([publication.rule]);
    expect(appOn(guarded)).toMatchObject({ aud: app.aud, policies: [{ name: 'editors [tunnelfleet]' }] });
  });
});

describe("DockFlare's zone default policy, end to end", { timeout: 180_000 }, () => {
  /** The operator's Cloudflare API, as curl would call it with the account's token. */
  async function cloudflareApi(method: string, path: string, body?: unknown) {
    const { baseUrl, accountId, apiToken } = fleet().cloudflare;
    const response = await fetch(`${baseUrl}/accounts/${accountId}${path}`, {
      method,
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expect(response.ok, `${method} ${path}`).toBe(true);
    return ((await response.json()) as { result: Record<string, unknown> }).result;
  }

  it("publishes default_tld only behind the zone's *.<zone> app, and withdraws it when that app goes", async () => {
    const hostname = uniqueHostname('tld', 'example.org');
    await fleet().b.runContainer({
      labels: {
        'dockflare.enable': 'true',
        'dockflare.hostname': hostname,
        'dockflare.access.policy': 'default_tld',
      },
    });
    const waiting = await waitRouteError(hostname, /no Access application on \*\.example\.org/);
    expect(waiting.statusMessage).toBe(
      "access.policy=default_tld: there is no Access application on *.example.org (DockFlare's zone default policy): create one; the route is not published until its Access is in place",
    );
    await expectUnpublishedAfterReconcile(hostname);

    const policy = await cloudflareApi('POST', '/access/policies', {
      name: 'example.org staff',
      decision: 'allow',
      include: [{ email_domain: { domain: 'example.org' } }],
    });
    const zoneApp = await cloudflareApi('POST', '/access/apps', {
      type: 'self_hosted',
      domain: '*.example.org',
      name: 'example.org zone default',
      policies: [{ id: policy.id, precedence: 1 }],
    });
    // Made outside the master: the next full reconcile finds it.
    await fleet().admin.reconcile();
    const publication = await waitPublished(fleet(), fleet().b, hostname);
    expect((publication.rule as ProtectedRule).originRequest?.access).toMatchObject({
      required: true,
      audTag: [zoneApp.aud],
    });
    expect(appOn(hostname)).toBeUndefined();

    await cloudflareApi('DELETE', `/access/apps/${String(zoneApp.id)}`);
    await fleet().admin.reconcile();
    await waitFor(() => rulesFor(cloudView(fleet()), hostname).length === 0, {
      description: `${hostname} withdrawn with its zone's app`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    await waitFor(() => cloudView(fleet()).records.every((r) => r.name !== hostname), {
      description: `${hostname}'s CNAME withdrawn`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    await cloudflareApi('DELETE', `/access/policies/${String(policy.id)}`);
  });
});

describe('every selector the labels accept, end to end', { timeout: 180_000 }, () => {
  it('builds each in include, require and exclude, and publishes each route behind its app', async () => {
    const suffix = `-${Math.random().toString(36).slice(2, 8)}`;
    const labels = accessSelectorLabels('example.com', suffix);
    // The routes complete their service from the container's exposed port.
    delete labels['tunnelfleet.service'];
    await fleet().a.runContainer({ labels });
    const hostnames = ACCESS_SELECTOR_CASES.flatMap(([name]) =>
      ACCESS_RULE_LISTS.map(([short]) => `${short}-${name}${suffix}.example.com`),
    );
    const published = await Promise.all(
      hostnames.map((hostname) => waitPublished(fleet(), fleet().a, hostname, { access: true })),
    );
    const byHostname = new Map(hostnames.map((h, i) => [h, published[i]!] as const));
    for (const [name, , , rule] of ACCESS_SELECTOR_CASES) {
      for (const [short, list] of ACCESS_RULE_LISTS) {
        const hostname = `${short}-${name}${suffix}.example.com`;
        const app = appOn(hostname)!;
        expect(app.policies, hostname).toHaveLength(1);
        expect(app.policies[0]![list], `${hostname} ${list}`).toContainEqual(rule);
        const access = (byHostname.get(hostname)!.rule as ProtectedRule).originRequest?.access;
        expect(access, hostname).toMatchObject({ required: true, audTag: [app.aud] });
      }
    }
  });
});
