import {
  listRoutesResponseSchema,
  overviewResponseSchema,
  routeDetailResponseSchema,
} from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';
import { container, webLabels } from '../../test/reconciler-test-world.js';

/** What the dashboard's pages read: server-side pages of routes, and the overview. */
describe('admin API for the dashboard', () => {
  let fx: MasterFixture;
  let agentId: string;
  beforeAll(async () => {
    fx = await startMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50' } });
    fx.emulator.createZone('example.com', fx.accountId);
    const agent = await fx.enrollAgent({ name: 'pages-host' });
    agentId = agent.agentId;
    const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
    const report = await fx.reportSnapshot(
      agent,
      1,
      names.map((name) => container(`web-${name}`, webLabels(`${name}.example.com`))),
    );
    expect(report.status).toBe(200);
    await waitFor(async () => (await fx.admin('GET', '/routes')).body.routes.length === 5, {
      description: 'five routes',
    });
  });
  afterAll(async () => {
    await fx?.close();
  });

  const routes = async (query: string) =>
    listRoutesResponseSchema.parse((await fx.admin('GET', `/routes?${query}`)).body);

  it('pages routes on the server, with the total of every page', async () => {
    const first = await routes('limit=2&offset=0');
    expect(first.total).toBe(5);
    expect(first.routes.map((r) => r.hostname)).toEqual(['alpha.example.com', 'bravo.example.com']);
    const last = await routes('limit=2&offset=4');
    expect(last.routes.map((r) => r.hostname)).toEqual(['echo.example.com']);
    const reversed = await routes('limit=1&sort=hostname&order=desc');
    expect(reversed.routes[0]!.hostname).toBe('echo.example.com');
  });

  it('searches hostnames and container names, and filters by zone and agent', async () => {
    expect((await routes('q=char')).routes.map((r) => r.hostname)).toEqual(['charlie.example.com']);
    expect((await routes('q=web-del')).routes.map((r) => r.containerName)).toEqual(['web-delta']);
    // LIKE wildcards in the search are literal characters, not patterns.
    expect((await routes('q=%25')).total).toBe(0);
    expect((await routes('q=_')).total).toBe(0);
    expect((await routes(`agentId=${agentId}&zone=example.com`)).total).toBe(5);
    expect((await routes('zone=other.org')).total).toBe(0);
  });

  it('details a route: its labels and language, the Cloudflare objects behind it, its history', async () => {
    const [alpha] = (await routes('hostname=alpha.example.com')).routes;
    const detail = await waitFor(
      async () => {
        const answer = routeDetailResponseSchema.parse((await fx.admin('GET', `/routes/${alpha!.id}`)).body);
        return answer.detail.cloudflare.dnsRecords.length === 1 &&
          answer.detail.cloudflare.ingressRules.length === 1
          ? answer.detail
          : undefined;
      },
      { description: 'the route published' },
    );
    expect(detail.labels['tunnelfleet.hostname']).toBe('alpha.example.com');
    expect(detail.language).toBe('tunnelfleet');
    expect(detail.cloudflare.dnsRecords[0]!.id).toBe(
      fx.emulator.dnsRecords('example.com').find((r) => r.name === 'alpha.example.com')?.id,
    );
    expect(detail.history.map((entry) => entry.action)).toContain('cloudflare.dns.sync');
    expect((await fx.admin('GET', '/routes/999999')).status).toBe(404);
    expect((await fx.admin('GET', '/routes/public')).status).toBe(200);
  });

  it('refuses a bad page with a clear error', async () => {
    const answer = await fx.admin('GET', '/routes?limit=0&sort=size');
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(/limit/);
    expect(answer.body.error.message).toMatch(/sort/);
  });

  it('gives the overview: agents, routes by status, conflicts, Cloudflare budget, last reconcile', async () => {
    await waitFor(
      async () =>
        overviewResponseSchema.parse((await fx.admin('GET', '/overview')).body).overview.lastReconcile !==
        null,
      { description: 'the first full reconcile ended' },
    );
    const { overview } = overviewResponseSchema.parse((await fx.admin('GET', '/overview')).body);
    expect(overview.agents).toMatchObject({ online: 1, offline: 0, revoked: 0 });
    expect(Object.values(overview.routes).reduce((a, b) => a + b, 0)).toBe(5);
    expect(overview.openConflicts).toBe(0);
    expect(overview.cloudflare).toHaveLength(1);
    expect(overview.cloudflare[0]!.ceiling).toBe(1080);
    expect(overview.cloudflare[0]!.inWindow).toBeGreaterThan(0);
  });

  it('groups routes by agent, status, zone or policy: group counts and offsets with every page', async () => {
    const second = await fx.enrollAgent({ name: 'group-host' });
    const report = await fx.reportSnapshot(second, 1, [
      container('ops', webLabels('ops.example.com', { 'tunnelfleet.access.named_policy': 'ops-team' })),
      container('staff', webLabels('staff.example.com', { 'tunnelfleet.access.emails': 'a@example.com' })),
      container('away', webLabels('away.example.net')),
    ]);
    expect(report.status).toBe(200);
    await waitFor(async () => (await routes('')).total === 8, { description: 'eight routes' });

    const byAgent = await routes('group=agent&limit=3');
    const [first, secondGroup] = [agentId, second.agentId].sort();
    expect(byAgent.groups).toEqual([
      {
        key: first,
        label: `${first === agentId ? 'pages-host' : 'group-host'} (${first})`,
        count: first === agentId ? 5 : 3,
        offset: 0,
      },
      {
        key: secondGroup,
        label: `${secondGroup === agentId ? 'pages-host' : 'group-host'} (${secondGroup})`,
        count: secondGroup === agentId ? 5 : 3,
        offset: first === agentId ? 5 : 3,
      },
    ]);
    // Rows come in group order; the sort applies within each group.
    const all = await routes('group=agent&sort=hostname&order=desc');
    expect(all.routes.map((r) => r.agentId)).toEqual([
      ...Array(byAgent.groups![0]!.count).fill(first),
      ...Array(byAgent.groups![1]!.count).fill(secondGroup),
    ]);
    const mine = all.routes.filter((r) => r.agentId === agentId).map((r) => r.hostname);
    expect(mine).toEqual([...mine].sort().reverse());
    // A page deep in the ordering is the same rows as the whole list at that offset.
    const page = await routes('group=agent&sort=hostname&order=desc&limit=2&offset=4');
    expect(page.routes.map((r) => r.id)).toEqual(all.routes.slice(4, 6).map((r) => r.id));

    const byPolicy = await routes(`group=policy&agentId=${second.agentId}`);
    expect(byPolicy.groups!.map((g) => [g.label, g.count])).toEqual([
      ['Access from its own labels', 1],
      ['No Access', 1],
      ['Policy ops-team', 1],
    ]);
    expect(byPolicy.routes.map((r) => r.hostname)).toEqual([
      'staff.example.com',
      'away.example.net',
      'ops.example.com',
    ]);

    const byZone = await routes('group=zone');
    expect(byZone.groups!.map((g) => [g.label, g.count])).toEqual([
      ['No zone', 1],
      ['example.com', 7],
    ]);
    const byStatus = await routes('group=status&q=example.com');
    expect(byStatus.groups!.reduce((n, g) => n + g.count, 0)).toBe(byStatus.total);
    const refused = await fx.admin('GET', '/routes?group=colour');
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/group/);
  });

  it('refuses a bad adoption with a clear error, and changes nothing', async () => {
    const before = fx.emulator.dnsRecords('example.com');
    for (const body of [{}, { fingerprint: 'not-hex' }, { fingerprint: 'a'.repeat(64), recordId: 'x' }]) {
      const answer = await fx.admin('POST', '/conflicts/1/adopt', body);
      expect(answer.status).toBe(400);
      expect(answer.body.error.message).toMatch(/fingerprint|recordId|unrecognized/i);
    }
    const missing = await fx.admin('POST', '/conflicts/424242/adopt', { fingerprint: 'a'.repeat(64) });
    expect(missing.status).toBe(404);
    expect((await fx.admin('GET', '/conflicts/424242/adoption')).status).toBe(404);
    expect((await fx.admin('GET', '/conflicts/0/adoption')).status).toBe(400);
    expect(fx.emulator.dnsRecords('example.com')).toEqual(before);
  });
});
