/**
 * Benchmark: Cloudflare API calls for a burst of 100 container starts on one host, through the
 * real master (HTTP API, routes engine, reconciler with its debounce, Cloudflare layer) against
 * the emulator, and then for a full reconcile with nothing changed. Baseline, measured in the same
 * run against the same emulator with the official SDK: the per-change approach of DockFlare and
 * Labelgate — for every container, GET the tunnel configuration, PUT it back with one more rule,
 * and create its DNS record.
 *
 *   pnpm build && node master/test/dist/test/bench/cloudflare-economy.js [containers=100]
 */
import { AGENT_ROUTES, snapshotFingerprint } from '@tunnelfleet/common';
import { runBench, waitFor } from '@tunnelfleet/test';
import Cloudflare from 'cloudflare';
import { type MasterFixture, startMasterFixture } from '../master-test-fixture.js';
import { container, webLabels } from '../reconciler-test-world.js';

const ZONE = 'example.com';
/** No new call for this long after convergence: the burst's work is over. */
const QUIET_MS = 3_000;

async function fullReconciles(fixture: MasterFixture): Promise<number> {
  const metrics = await fixture.request('GET', '/metrics');
  const match = /^tunnelfleet_reconcile_duration_seconds_count\{kind="full"\} (\d+)$/m.exec(
    String(metrics.body),
  );
  return Number(match?.[1] ?? 0);
}

/** Waits until the emulator has seen no API call for QUIET_MS. */
async function quiet(fixture: MasterFixture): Promise<void> {
  await waitFor(
    () => {
      const last = fixture.emulator.calls().at(-1)?.time ?? 0;
      return Date.now() - last >= QUIET_MS;
    },
    { description: 'Cloudflare calls to stop', timeoutMs: 120_000, intervalMs: 100 },
  );
}

function ingressHostnames(fixture: MasterFixture, tunnelId: string): Set<string> {
  const config = fixture.emulator.tunnelConfig(tunnelId)?.config as { ingress?: { hostname?: string }[] };
  return new Set((config?.ingress ?? []).flatMap((rule) => (rule.hostname ? [rule.hostname] : [])));
}

/**
 * How the burst reaches the master. `events`: the agent's reporter sends each `start` event as its
 * own report, one after the other (what a running agent does). `snapshot`: all 100 in one report
 * (an agent starting, reconnecting, or asked for a snapshot).
 */
type Arrival = 'events' | 'snapshot';

async function tunnelfleetBurst(fixture: MasterFixture, count: number, arrival: Arrival) {
  const agent = await fixture.enrollAgent({ name: `economy-${arrival}` });
  let sequence = 0;
  const report = async (body: object) => {
    const reply = await fixture.request('POST', AGENT_ROUTES.reports, {
      token: agent.key,
      body: { agentId: agent.agentId, sequence: ++sequence, observedAt: new Date().toISOString(), ...body },
    });
    if (reply.status !== 200) throw new Error(`report refused: ${JSON.stringify(reply.body)}`);
  };
  const view = await fixture.admin('GET', `/agents/${agent.agentId}`);
  const tunnelId: string | undefined = view.body.agent?.tunnel?.id;
  if (!tunnelId) throw new Error(`agent has no tunnel: ${JSON.stringify(view.body)}`);
  await waitFor(async () => (await fullReconciles(fixture)) >= 1, {
    description: 'the initial full reconcile',
  });
  await quiet(fixture);
  fixture.emulator.clearCalls();

  const hostnames = Array.from({ length: count }, (_, i) => `${arrival}-${i}.${ZONE}`);
  const containers = hostnames.map((hostname) => container(hostname.split('.')[0]!, webLabels(hostname)));
  const started = performance.now();
  if (arrival === 'snapshot') {
    await report({ kind: 'snapshot', fingerprint: snapshotFingerprint(containers), containers });
  } else {
    for (const each of containers)
      await report({ kind: 'event', change: { action: 'upsert', container: each } });
  }
  const reportedMs = performance.now() - started;
  await waitFor(
    () => {
      const records = new Set(fixture.emulator.dnsRecords(ZONE).map((r) => r.name));
      const rules = ingressHostnames(fixture, tunnelId);
      return hostnames.every((h) => records.has(h) && rules.has(h));
    },
    { description: `${count} records and rules`, timeoutMs: 60_000, intervalMs: 20 },
  );
  const convergedMs = performance.now() - started;
  await quiet(fixture);
  return {
    arrival,
    reportedMs,
    convergedMs,
    calls: fixture.emulator.calls().length,
    writes: fixture.emulator.writes().length,
    byRoute: fixture.emulator.countsByRoute(),
  };
}

/** Steady state: a full reconcile (the cron's job) with nothing changed since the last one. */
async function steadyReconcile(fixture: MasterFixture) {
  fixture.emulator.clearCalls();
  const before = await fullReconciles(fixture);
  const requested = await fixture.admin('POST', '/reconcile');
  if (requested.status !== 202) throw new Error(`reconcile refused: ${JSON.stringify(requested.body)}`);
  await waitFor(async () => (await fullReconciles(fixture)) > before, {
    description: 'the full reconcile to finish',
    timeoutMs: 60_000,
  });
  return { calls: fixture.emulator.calls(), writes: fixture.emulator.writes().length };
}

/** DockFlare/Labelgate style: one read-modify-write of the tunnel configuration and one record per change. */
async function perChangeBaseline(fixture: MasterFixture, zoneId: string, count: number) {
  const token = fixture.emulator.createToken({
    accountIds: [fixture.accountId],
    zoneNames: 'all',
    name: 'peer',
  });
  const client = new Cloudflare({ apiToken: token, baseURL: fixture.emulator.baseUrl, maxRetries: 0 });
  const tunnelId = String(fixture.emulator.seedTunnel(fixture.accountId, 'peer-tunnel').id);
  const calls = fixture.emulator.calls().length;
  for (let i = 0; i < count; i++) {
    const hostname = `peer-${i}.${ZONE}`;
    const current = await client.zeroTrust.tunnels.cloudflared.configurations.get(tunnelId, {
      account_id: fixture.accountId,
    });
    const rules = (current.config?.ingress ?? []).filter((rule) => rule.hostname);
    const ingress = [...rules, { hostname, service: 'http://web:80' }, { service: 'http_status:404' }];
    await client.zeroTrust.tunnels.cloudflared.configurations.update(tunnelId, {
      account_id: fixture.accountId,
      // The SDK types every rule with a hostname; the catch-all has none (as in master/src/cloudflare).
      config: { ingress } as never,
    });
    await client.dns.records.create({
      zone_id: zoneId,
      type: 'CNAME',
      name: hostname,
      content: `${tunnelId}.cfargotunnel.com`,
      proxied: true,
      ttl: 1,
    });
  }
  return fixture.emulator.calls().length - calls;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 100);
  const fixture = await startMasterFixture();
  try {
    const zone = fixture.emulator.createZone(ZONE, fixture.accountId);
    const bursts = [];
    for (const arrival of ['events', 'snapshot'] as const)
      bursts.push(await tunnelfleetBurst(fixture, count, arrival));
    const steady = await steadyReconcile(fixture);
    fixture.emulator.clearCalls();
    const baselineCalls = await perChangeBaseline(fixture, zone.id, count);

    const row = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
    console.log(
      `Cloudflare economy (${new Date().toISOString()}, node ${process.version}): burst of ${count} container starts on one host, default SYNC_DEBOUNCE_MS / SYNC_MAX_WAIT_MS`,
    );
    row(['', 'API calls', 'of which writes', 'ratio baseline / Tunnelfleet', 'converged after']);
    row(['---', '---', '---', '---', '---']);
    for (const burst of bursts) {
      row([
        `Tunnelfleet, ${count} ${burst.arrival === 'events' ? 'event reports, one after the other' : 'containers in one snapshot report'}`,
        String(burst.calls),
        String(burst.writes),
        `${(baselineCalls / burst.calls).toFixed(1)}×`,
        `${(burst.convergedMs / 1000).toFixed(2)} s (reports took ${(burst.reportedMs / 1000).toFixed(2)} s)`,
      ]);
    }
    row([
      'baseline: per change GET + PUT config, create record',
      String(baselineCalls),
      String((baselineCalls * 2) / 3),
      '1×',
      '',
    ]);
    row(['full reconcile, nothing changed', String(steady.calls.length), String(steady.writes), '', '']);
    for (const burst of bursts)
      console.log(`calls by route (${burst.arrival}): ${JSON.stringify(burst.byRoute)}`);
    console.log(
      `calls by route (full reconcile): ${JSON.stringify(countBy(steady.calls.map((c) => c.route ?? c.path)))}`,
    );
    for (const burst of bursts) {
      const ratio = baselineCalls / burst.calls;
      console.log(
        `${burst.arrival}: target ≤ 5 calls ${burst.calls <= 5 ? 'met' : 'MISSED'} (${burst.calls}); ` +
          `target ≥ 40× fewer ${ratio >= 40 ? 'met' : 'MISSED'} (${ratio.toFixed(1)}×)`,
      );
    }
    console.log(
      `target 0 writes in a full reconcile with nothing changed: ${steady.writes === 0 ? 'met' : 'MISSED'} (${steady.writes})`,
    );
  } finally {
    await fixture.close();
  }
}

function countBy(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}

runBench(main);
