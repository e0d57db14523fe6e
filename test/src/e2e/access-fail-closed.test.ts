import { describe, expect, it } from 'vitest';
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

/** Nothing of the hostname at Cloudflare after a full reconcile: no CNAME, no ingress rule. */
async function expectUnpublishedAfterReconcile(hostname: string) {
  // The reconcile runs in the background (202): it is over when the master logs so.
  const reconciles = async () => (await fleet().master.logs()).split('full reconcile done').length;
  const before = await reconciles();
  await fleet().admin.reconcile();
  await waitFor(async () => (await reconciles()) > before, {
    description: 'the full reconcile (Access, then every tunnel and zone) to finish',
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
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
});
