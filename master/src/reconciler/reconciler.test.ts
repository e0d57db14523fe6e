import { waitFor } from '@tunnelfleet/test';
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
import type { CallBudgetOptions } from '../cloudflare/call-budget.js';
import { listAudit } from '../store/audit-log.js';
import { listConflicts } from '../store/conflicts.js';
import { upsertContainer } from '../store/containers.js';
import { listRoutes } from '../store/routes.js';
import { writeTunnelMemo } from './ingress-intent.js';

const startWorld = useReconcilerWorlds();
let world: ReconcilerWorld;

const hostnamesOf = (rules: { hostname?: string }[]) =>
  rules.flatMap((r) => (r.hostname ? [r.hostname] : []));
const dnsWrites = () => world.emulator.writes().filter((c) => c.path.includes('/dns_records'));
const configPuts = () => world.emulator.writes().filter((c) => c.path.endsWith('/configurations'));

describe('publishing', () => {
  it('turns labelled containers into active routes, CNAMEs and ingress rules', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    await world.report(agentId, container('web', webLabels('app.example.com')));
    await world.report(
      agentId,
      container('multi', {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.api.hostname': 'api.example.com',
        'tunnelfleet.api.service': 'http://multi:8080',
        'tunnelfleet.admin.hostname': 'admin.example.com',
        'tunnelfleet.admin.service': 'http://multi:9090',
      }),
    );
    await waitFor(() => cnames(world, 'admin.example.com').length === 1, { description: 'the CNAMEs' });
    await waitFor(() => hostnamesOf(ingressRules(world, tunnelId)).length === 3, {
      description: 'the rules',
    });

    // Cloudflare is written before SQLite records the outcome: wait for the outcome, not only the objects.
    await waitFor(
      () => {
        const actions = listAudit(world.db, { limit: 50 }).entries.map((e) => e.action);
        return (
          listRoutes(world.db).every((r) => r.status === 'active') && actions.includes('cloudflare.dns.sync')
        );
      },
      { description: 'the sync outcomes recorded' },
    );
    expect(listRoutes(world.db).map((r) => [r.hostname, r.status])).toEqual([
      ['admin.example.com', 'active'],
      ['api.example.com', 'active'],
      ['app.example.com', 'active'],
    ]);
    for (const hostname of ['app.example.com', 'api.example.com', 'admin.example.com']) {
      const [record] = cnames(world, hostname);
      expect(record).toMatchObject({ type: 'CNAME', content: `${tunnelId}.cfargotunnel.com`, proxied: true });
      expect(record?.comment).toBe(`managed by tunnelfleet; agent=${agentId}`);
    }
    expect(ingressRules(world, tunnelId)).toContainEqual({
      hostname: 'api.example.com',
      service: 'http://multi:8080',
    });
    expect(ingressRules(world, tunnelId).at(-1)).toEqual({ service: 'http_status:404' });
    const actions = listAudit(world.db, { limit: 50 }).entries.map((e) => e.action);
    expect(actions).toContain('cloudflare.tunnel.ingress.put');
    expect(actions).toContain('cloudflare.dns.sync');
  });

  it('folds a burst of 100 containers into at most 1 configuration PUT and 2 DNS writes', async () => {
    // The reports of a burst come close together: one quiet window and no cap between them.
    world = await startWorld({ debounceMs: 1_500, maxWaitMs: 60_000 });
    const { agentId, tunnelId } = await world.addAgent();
    world.emulator.clearCalls();
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        world.report(agentId, container(`web-${i}`, webLabels(`app-${i}.example.com`))),
      ),
    );
    await waitFor(() => world.emulator.dnsRecords('example.com').length === 100, {
      description: '100 CNAMEs',
      timeoutMs: 20_000,
    });
    await waitFor(() => hostnamesOf(ingressRules(world, tunnelId)).length === 100, {
      description: '100 rules',
    });
    expect(configPuts().length).toBeLessThanOrEqual(1);
    expect(dnsWrites().length).toBeLessThanOrEqual(2);
    expect(listRoutes(world.db, { status: 'active' })).toHaveLength(100);
  });

  it("syncs a container start in a zone of many routes by its own name: one read, one batch, the zone's other records left to drift checks", async () => {
    world = await startWorld();
    const { agentId } = await world.addAgent();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        world.report(agentId, container(`web-${i}`, webLabels(`app-${i}.example.com`))),
      ),
    );
    await waitFor(
      () =>
        world.emulator.dnsRecords('example.com').length === 20 &&
        listRoutes(world.db).every((r) => r.status === 'active'),
      { description: '20 published routes' },
    );
    // app-0's record deleted by hand: drift, which only a check of the whole zone is for.
    const record = cnames(world, 'app-0.example.com')[0]!;
    await world.cf.layer().syncDnsRecords({
      owner: agentId,
      desired: [],
      owned: [{ hostname: String(record.name), recordId: String(record.id) }],
    });
    const others = JSON.stringify(world.emulator.dnsRecords('example.com'));
    world.emulator.clearCalls();

    await world.report(agentId, container('late', webLabels('late.example.com')));
    await waitFor(
      () =>
        cnames(world, 'late.example.com').length === 1 &&
        listRoutes(world.db).every((r) => r.status === 'active'),
      { description: 'the late route published' },
    );
    const dnsCalls = world.emulator.calls().filter((c) => c.path.includes('/dns_records'));
    expect(
      dnsCalls.map((c) => [
        c.method,
        c.route?.split('/').at(-1),
        new URLSearchParams(c.query).get('name.exact'),
      ]),
    ).toEqual([
      ['GET', 'dns_records', 'late.example.com'],
      ['POST', 'batch', null],
    ]);
    expect(
      JSON.stringify(world.emulator.dnsRecords('example.com').filter((r) => r.name !== 'late.example.com')),
    ).toBe(others);

    // The sweep checks the zone whole and puts the record deleted by hand back.
    await world.reconciler.reconcileNow();
    expect(cnames(world, 'app-0.example.com')).toHaveLength(1);
    expect(world.emulator.dnsRecords('example.com')).toHaveLength(21);
  });

  it("publishes a host approved after its reports by its own names: the zone's other records are not read", async () => {
    world = await startWorld();
    const { agentId: settled } = await world.addAgent();
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        world.report(settled, container(`web-${i}`, webLabels(`app-${i}.example.com`))),
      ),
    );
    await waitFor(() => world.emulator.dnsRecords('example.com').length === 10, {
      description: '10 records',
    });
    const pending = world.addPendingAgent();
    await world.report(pending.agentId, container('one', webLabels('one.example.com')));
    await world.report(pending.agentId, container('two', webLabels('two.example.com')));
    const before = JSON.stringify(world.emulator.dnsRecords('example.com'));
    world.emulator.clearCalls();

    const tunnelId = await pending.approve();
    await waitFor(
      () =>
        cnames(world, 'one.example.com').length === 1 &&
        cnames(world, 'two.example.com').length === 1 &&
        listRoutes(world.db).every((r) => r.status === 'active'),
      { description: "the approved host's routes published" },
    );
    expect(cnames(world, 'two.example.com')[0]).toMatchObject({ content: `${tunnelId}.cfargotunnel.com` });
    const reads = world.emulator
      .calls()
      .filter((c) => c.method === 'GET' && c.path.endsWith('/dns_records'))
      .map((c) => new URLSearchParams(c.query).get('name.exact'));
    expect(reads.sort()).toEqual(['one.example.com', 'two.example.com']);
    const others = world.emulator
      .dnsRecords('example.com')
      .filter((r) => r.name !== 'one.example.com' && r.name !== 'two.example.com');
    expect(JSON.stringify(others)).toBe(before);
  });

  it('gives a route with bad labels status invalid, with the message, and writes nothing', async () => {
    world = await startWorld();
    const { agentId } = await world.addAgent();
    world.emulator.clearCalls();
    await world.report(agentId, container('bad', webLabels('not a hostname!')));
    const [route] = listRoutes(world.db);
    expect(route?.status).toBe('invalid');
    expect(route?.statusMessage).toContain('tunnelfleet.hostname');
    expect(route?.problems.length).toBeGreaterThan(0);
    await world.reconciler.reconcileNow();
    expect(world.emulator.writes()).toEqual([]);
  });

  it('refuses a hostname outside the key allowlist or the managed zones, as a recorded conflict', async () => {
    world = await startWorld();
    const { agentId } = await world.addAgent({ allowlist: ['*.apps.example.com'] });
    world.emulator.clearCalls();
    await world.report(agentId, container('a', webLabels('web.apps.example.com')));
    await world.report(agentId, container('b', webLabels('admin.example.com')));
    await world.report(agentId, container('c', webLabels('shop.apps.example.net')));
    const byHost = new Map(listRoutes(world.db).map((r) => [r.hostname, r]));
    expect(byHost.get('web.apps.example.com')?.status).toBe('active');
    expect(byHost.get('admin.example.com')?.status).toBe('invalid');
    expect(byHost.get('admin.example.com')?.statusMessage).toContain('allowlist');
    expect(byHost.get('shop.apps.example.net')?.status).toBe('invalid');
    const conflicts = listConflicts(world.db);
    expect(conflicts.map((c) => [c.kind, c.hostname]).sort()).toEqual([
      ['outside_allowlist', 'admin.example.com'],
      ['outside_allowlist', 'shop.apps.example.net'],
    ]);
    await waitFor(() => cnames(world, 'web.apps.example.com').length === 1, {
      description: 'the allowed CNAME',
    });
    expect(world.emulator.dnsRecords().map((r) => r.name)).toEqual(['web.apps.example.com']);
  });
});

describe('housekeeping', () => {
  it('publishes a route whose zone lookup failed once Cloudflare answers again, without a new report', async () => {
    world = await startWorld();
    const { agentId } = await world.addAgent();
    world.emulator.faults.set({ errorRate: { 'GET /zones': 1 } });
    await world.report(agentId, container('web', webLabels('app.example.com')));
    const [failed] = listRoutes(world.db);
    expect(failed?.status).toBe('error');
    expect(failed?.statusMessage).toContain('could not look up the zone');
    world.emulator.faults.clear();
    await world.reconciler.housekeep();
    expect(listRoutes(world.db)[0]).toMatchObject({ status: 'active', zone: 'example.com' });
    await waitFor(() => cnames(world, 'app.example.com').length === 1, { description: 'the CNAME' });
  });

  it('does not plan again a host whose routes are settled: its rows are left as they are', async () => {
    world = await startWorld();
    const { agentId } = await world.addAgent();
    await world.report(agentId, container('web', webLabels('app.example.com')));
    await waitFor(() => cnames(world, 'app.example.com').length === 1, { description: 'the CNAME' });
    const before = listRoutes(world.db);
    world.advance(60);
    await world.reconciler.housekeep();
    expect(listRoutes(world.db)).toEqual(before);
  });
});

describe('grace period', () => {
  it('restores a restarted container without any Cloudflare write, removes only ours after the grace period', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    const foreignRecord = world.emulator.seedDnsRecord('example.com', {
      type: 'A',
      name: 'legacy.example.com',
      content: '192.0.2.10',
    });
    world.emulator.seedIngressRule(tunnelId, { hostname: 'legacy.example.com', service: 'http://legacy:80' });
    const web = container('web', webLabels('app.example.com'));
    await world.report(agentId, web);
    await waitFor(() => cnames(world, 'app.example.com').length === 1, { description: 'the CNAME' });
    await world.reconciler.reconcileNow();

    world.emulator.clearCalls();
    await world.report(agentId, { ...web, state: 'exited' });
    const [stopped] = listRoutes(world.db);
    expect(stopped?.status).toBe('pending_deletion');
    expect(Date.parse(stopped?.deleteAfter ?? '')).toBeGreaterThan(Date.now() + (GRACE_SECONDS - 5) * 1000);
    world.advance(GRACE_SECONDS / 2);
    await world.report(agentId, web);
    expect(listRoutes(world.db)[0]?.status).toBe('active');
    await world.reconciler.reconcileNow();
    expect(world.emulator.writes()).toEqual([]);

    await world.remove(agentId, web.id);
    expect(listRoutes(world.db)[0]?.status).toBe('pending_deletion');
    world.advance(GRACE_SECONDS + 1);
    await world.reconciler.reconcileNow();
    expect(cnames(world, 'app.example.com')).toEqual([]);
    expect(hostnamesOf(ingressRules(world, tunnelId))).toEqual(['legacy.example.com']);
    expect(world.emulator.dnsRecords('example.com')).toContainEqual(foreignRecord);
    expect(listRoutes(world.db)).toEqual([]);
  });

  it('keeps the cloud objects of a cleanup=false route after its grace period', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    const kept = container('kept', webLabels('kept.example.com', { 'tunnelfleet.cleanup': 'false' }));
    const gone = container('gone', webLabels('gone.example.com'));
    await world.report(agentId, kept);
    await world.report(agentId, gone);
    await waitFor(() => cnames(world, 'gone.example.com').length === 1, { description: 'the CNAMEs' });
    await world.remove(agentId, kept.id);
    await world.remove(agentId, gone.id);
    world.advance(GRACE_SECONDS + 1);
    await world.reconciler.reconcileNow();
    expect(listRoutes(world.db)).toEqual([]);
    expect(cnames(world, 'gone.example.com')).toEqual([]);
    expect(cnames(world, 'kept.example.com')).toHaveLength(1);
    expect(hostnamesOf(ingressRules(world, tunnelId))).toEqual(['kept.example.com']);
    // Still ours and maintained: a hand deletion is repaired.
    const record = cnames(world, 'kept.example.com')[0]!;
    await world.cf.layer().syncDnsRecords({
      owner: agentId,
      desired: [],
      owned: [{ hostname: String(record.name), recordId: String(record.id) }],
    });
    expect(cnames(world, 'kept.example.com')).toEqual([]);
    await world.reconciler.reconcileNow();
    expect(cnames(world, 'kept.example.com')).toHaveLength(1);
  });
});

describe('hostname conflicts across agents', () => {
  it('keeps the first claimant, records the conflict, hands over when the holder goes away', async () => {
    world = await startWorld();
    const first = await world.addAgent();
    const second = await world.addAgent();
    const a = container('a', webLabels('shared.example.com'));
    await world.report(first.agentId, a);
    world.advance(1);
    await world.report(second.agentId, container('b', webLabels('shared.example.com')));
    await waitFor(() => cnames(world, 'shared.example.com').length === 1, { description: 'the CNAME' });
    await world.reconciler.reconcileNow();

    const loser = listRoutes(world.db, { agentId: second.agentId })[0]!;
    expect(loser.status).toBe('conflict');
    expect(loser.statusMessage).toContain(first.agentId);
    const [conflict] = listConflicts(world.db);
    expect(conflict).toMatchObject({
      kind: 'hostname_claimed',
      hostname: 'shared.example.com',
      routeId: loser.id,
    });
    expect(cnames(world, 'shared.example.com')[0]?.content).toBe(`${first.tunnelId}.cfargotunnel.com`);
    expect(hostnamesOf(ingressRules(world, second.tunnelId))).toEqual([]);

    await world.remove(first.agentId, a.id);
    world.advance(GRACE_SECONDS + 1);
    await world.reconciler.reconcileNow();
    expect(listRoutes(world.db).map((r) => [r.agentId, r.status])).toEqual([[second.agentId, 'active']]);
    expect(listConflicts(world.db)).toEqual([]);
    expect(cnames(world, 'shared.example.com')).toHaveLength(1);
    expect(cnames(world, 'shared.example.com')[0]?.content).toBe(`${second.tunnelId}.cfargotunnel.com`);
    expect(hostnamesOf(ingressRules(world, second.tunnelId))).toEqual(['shared.example.com']);
    expect(hostnamesOf(ingressRules(world, first.tunnelId))).toEqual([]);
  });
});

describe('conflicts with foreign objects', () => {
  it('publishes no ingress rule for a route whose hostname has a foreign DNS record', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    world.emulator.seedDnsRecord('example.com', {
      type: 'CNAME',
      name: 'taken.example.com',
      content: 'elsewhere.example.net',
      proxied: true,
      comment: 'made by hand',
    });
    await world.report(agentId, container('web', webLabels('taken.example.com')));
    await world.report(agentId, container('free', webLabels('free.example.com')));
    await waitFor(() => listRoutes(world.db, { agentId }).some((r) => r.status === 'conflict'), {
      description: 'the conflict',
    });
    await world.reconciler.reconcileNow();

    const byHost = new Map(listRoutes(world.db, { agentId }).map((r) => [r.hostname, r]));
    expect(byHost.get('taken.example.com')?.status).toBe('conflict');
    expect(listConflicts(world.db)).toEqual([
      expect.objectContaining({ kind: 'foreign_dns_record', hostname: 'taken.example.com' }),
    ]);
    expect(hostnamesOf(ingressRules(world, tunnelId))).toEqual(['free.example.com']);
    expect(cnames(world, 'taken.example.com')).toEqual([
      expect.objectContaining({ content: 'elsewhere.example.net' }),
    ]);
  });
});

describe('drift', () => {
  it('puts back a record and a rule deleted by hand, and writes nothing when nothing drifted', async () => {
    world = await startWorld();
    const { agentId, tunnelId } = await world.addAgent();
    await world.report(agentId, container('web', webLabels('app.example.com')));
    await world.report(agentId, container('api', webLabels('api.example.com')));
    await waitFor(() => cnames(world, 'api.example.com').length === 1, { description: 'the CNAMEs' });
    await world.reconciler.reconcileNow();

    world.emulator.clearCalls();
    await world.reconciler.reconcileNow();
    expect(world.emulator.writes()).toEqual([]);

    const record = cnames(world, 'app.example.com')[0]!;
    await world.cf.layer().syncDnsRecords({
      owner: agentId,
      desired: [],
      owned: [{ hostname: String(record.name), recordId: String(record.id) }],
    });
    const rules = ingressRules(world, tunnelId).filter((r) => r.hostname !== 'api.example.com');
    world.emulator.setTunnelConfig(tunnelId, { ingress: rules });
    expect(cnames(world, 'app.example.com')).toEqual([]);

    await world.reconciler.reconcileNow();
    expect(cnames(world, 'app.example.com')).toHaveLength(1);
    expect(hostnamesOf(ingressRules(world, tunnelId)).sort()).toEqual(['api.example.com', 'app.example.com']);
    expect(world.emulator.dnsRecords('example.com')).toHaveLength(2);
  });
});

/**
 * Three agents with a published route each (`app<i>.example.com`), drift checks every second. A
 * queue prefix of its own: sync jobs left by earlier tests must not call this world's emulator.
 */
async function startDriftWorld(budget: CallBudgetOptions) {
  const redisPrefix = `drift-${Math.random().toString(36).slice(2)}`;
  world = await startWorld({ driftPeriodMs: 1_000, redisPrefix }, budget);
  const agents = [await world.addAgent(), await world.addAgent(), await world.addAgent()];
  for (const [i, { agentId }] of agents.entries()) {
    await world.report(agentId, container(`web${i}`, webLabels(`app${i}.example.com`)));
  }
  // The reports' own syncs are done before the checks begin: no change is in flight then.
  await waitFor(
    () =>
      agents.every(
        ({ tunnelId }, i) =>
          cnames(world, `app${i}.example.com`).length === 1 &&
          hostnamesOf(ingressRules(world, tunnelId)).includes(`app${i}.example.com`),
      ) && listRoutes(world.db).every((r) => r.status === 'active'),
    { description: 'the first routes published' },
  );
  await world.reconciler.start();
  return agents;
}

describe('drift checks paced to a budget share', () => {
  it('checks every tunnel and zone on its own, repairs what was changed by hand, and stretches the period to fit the share', async () => {
    // Drift may use 20% of 10 calls per second: 2 calls a second for 4 targets (3 tunnels, 1 zone)
    // of at least one call each, so the 1 s period asked for becomes 2 s or more.
    const agents = await startDriftWorld({ limit: 10, windowMs: 1_000, safetyMargin: 0, driftShare: 0.2 });
    expect(listRoutes(world.db).every((r) => r.status === 'active')).toBe(true);

    const { tunnelId } = agents[1]!;
    world.emulator.setTunnelConfig(tunnelId, { ingress: [{ service: 'http_status:404' }] });
    const record = cnames(world, 'app2.example.com')[0]!;
    // Deleted by hand, through the API, as an operator in the dashboard would.
    await fetch(
      `${world.emulator.baseUrl}/zones/${String(record.zone_id)}/dns_records/${String(record.id)}`,
      {
        method: 'DELETE',
        headers: { authorization: `Bearer ${world.cf.defaultToken}` },
      },
    );
    expect(cnames(world, 'app2.example.com')).toEqual([]);
    await waitFor(() => hostnamesOf(ingressRules(world, tunnelId)).includes('app1.example.com'), {
      description: 'the drift check of the tunnel puts its rule back',
    });
    await waitFor(() => cnames(world, 'app2.example.com').length === 1, {
      description: 'the drift check of the zone puts the record back',
    });
    await waitFor(() => world.reconciler.driftStatus().targets.every((t) => t.lastCheckedAt !== null), {
      description: 'every target checked',
    });

    const status = world.reconciler.driftStatus();
    expect(status.targets.map((t) => t.target).sort()).toEqual(
      [...agents.map((a) => `tunnel:${a.tunnelId}`), 'zone:example.com'].sort(),
    );
    expect(status.configuredPeriodSeconds).toBe(1);
    expect(status.tokens).toHaveLength(1);
    expect(status.tokens[0]).toMatchObject({ targets: 4, driftCeiling: 2 });
    expect(status.tokens[0]!.periodSeconds).toBeGreaterThanOrEqual(2);
    // The budget counted those checks in their own lane.
    const [budget] = world.cloudflare.budgets();
    expect(budget!.driftCeiling).toBe(2);
  });
});

describe('changes before drift checks', () => {
  it('publishes new routes while drift checks wait for their share, promoting a check that holds a changed target', async () => {
    // Drift may make one call a minute; changes have the other 199.
    const agents = await startDriftWorld({
      limit: 200,
      windowMs: 60_000,
      safetyMargin: 0,
      driftShare: 0.005,
    });
    const budget = () => world.cloudflare.budgets()[0]!;
    // The first drift check reads a tunnel; hold that read in flight while every tunnel is edited
    // by hand, so the check finds drift and its repair (a PUT) waits for the next drift slot.
    world.emulator.faults.hold('GET /accounts/:id/cfd_tunnel/:id/configurations');
    await waitFor(() => world.emulator.faults.held() >= 1, {
      description: 'the first drift read in flight',
    });
    for (const { tunnelId } of agents) {
      world.emulator.setTunnelConfig(tunnelId, { ingress: [{ service: 'http_status:404' }] });
    }
    world.emulator.faults.release();
    await waitFor(() => budget().queued.drift === 1, {
      description: 'the drift repair waiting for its share',
    });

    for (const [i, { agentId }] of agents.entries()) {
      await world.report(agentId, container(`new${i}`, webLabels(`new${i}.example.com`)));
    }
    // Each change publishes its tunnel's whole set: the new route and the one edited away. The
    // tunnel whose drift repair was waiting is among them: its check was promoted, not waited for.
    for (const [i, { tunnelId }] of agents.entries()) {
      await waitFor(
        () =>
          cnames(world, `new${i}.example.com`).length === 1 &&
          hostnamesOf(ingressRules(world, tunnelId)).sort().join() ===
            `app${i}.example.com,new${i}.example.com`,
        { description: `new${i} published` },
      );
    }
    // The changes went by; drift stayed within its one call per window.
    expect(budget().inWindow.drift).toBeLessThanOrEqual(1);
    expect(budget().inWindow.change).toBeGreaterThan(0);
  });
});

describe('crash between an ingress PUT and its ownership record', () => {
  it('takes the rules a dead sync wrote as ours, but never a foreign rule it found before', async () => {
    // Every sync here is run by hand, in order: the report's debounced sync must not run between
    // the hand-made steps (it would write its own memo over the dead sync's and find `new` foreign).
    world = await startWorld({ debounceMs: 600_000, maxWaitMs: 600_000 });
    const { agentId, tunnelId } = await world.addAgent();
    world.emulator.seedIngressRule(tunnelId, { hostname: 'taken.example.com', service: 'http://theirs:80' });
    await world.report(agentId, container('taken', webLabels('taken.example.com')));
    await world.reconciler.reconcileNow();
    expect(listRoutes(world.db)[0]?.status).toBe('conflict');

    // What a sync that died after its PUT leaves: the rule at Cloudflare, an intent in SQLite, no ownership.
    upsertContainer(world.db, agentId, container('new', webLabels('new.example.com')));
    await world.reconciler.engine.syncAgentRoutes(agentId, { notify: false });
    writeTunnelMemo(world.db, tunnelId, {
      intent: ['new.example.com', 'taken.example.com'],
      foreign: ['taken.example.com'],
    });
    await world.cloudflare.syncTunnelIngress({
      tunnelId,
      desired: [{ hostname: 'new.example.com', service: 'http://web:80' }],
      ownedKeys: [],
    });

    await world.reconciler.reconcileNow();
    const byHost = new Map(listRoutes(world.db).map((r) => [r.hostname, r.status]));
    expect(byHost.get('new.example.com')).toBe('active');
    expect(byHost.get('taken.example.com')).toBe('conflict');
    expect(ingressRules(world, tunnelId)).toContainEqual({
      hostname: 'taken.example.com',
      service: 'http://theirs:80',
    });
    expect(hostnamesOf(ingressRules(world, tunnelId)).filter((h) => h === 'new.example.com')).toHaveLength(1);
  });
});
