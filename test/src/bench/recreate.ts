/**
 * Benchmark: a compose-style recreate (`docker compose up -d` after a label edit: the old container
 * removed, a new one of the same name and compose service started with a new `tunnelfleet.service`)
 * → the new service in the tunnel's ingress rule at the Cloudflare emulator. Timed from the new
 * container's Docker `start` event (the engine's own timestamp), one recreate at a time, through
 * the whole system (`startFleet`: the real agent of host B on a private second engine, real
 * master, reconciler, emulator), with the production grace period of 10 minutes: before route
 * identity, the new service waited that grace period out.
 * Baseline: the reconciler's quiet window (SYNC_DEBOUNCE_MS, default 150 ms), which every change
 * pays before its sync starts; the rest is the agent's report, the routes engine and the PUT.
 *
 *   pnpm build && node test/dist/bench/recreate.js [recreates=100]
 */
import { setTimeout as delay } from 'node:timers/promises';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import { type Fleet, startFleet, type TestContainer } from '../system/index.js';
import { hostTunnelId } from './host-tunnel.js';
import { formatMs, formatRatio, summarize } from './latency-stats.js';
import { runBench, tearDownKeepingFigures } from './run-bench.js';
import { RUN_LABEL, watchStartEvents } from './start-events.js';

const ZONE = 'example.com';
/** Host B's engine is private to this run (no test file uses it): its agent sees only ours. */
const SECOND_ENGINE = 'docker21';
/** The master's default SYNC_DEBOUNCE_MS (common/src/config/master-config.ts). */
const DEFAULT_DEBOUNCE_MS = 150;

function serviceAt(fleet: Fleet, tunnelId: string, hostname: string): string | undefined {
  const config = fleet.emulator.tunnelConfig(tunnelId)?.config as {
    ingress?: { hostname?: string; service: string }[];
  };
  return (config?.ingress ?? []).find((rule) => rule.hostname === hostname)?.service;
}

async function main(): Promise<void> {
  const [recreates = 100] = process.argv.slice(2).map(Number);
  const fleet = await startFleet({
    secondEngine: SECOND_ENGINE,
    zones: [ZONE],
    masterEnv: {
      SYNC_DEBOUNCE_MS: String(DEFAULT_DEBOUNCE_MS),
      GRACE_PERIOD_SECONDS: '600',
      LOG_LEVEL: 'warn',
    },
    agentEnv: { LOG_LEVEL: 'warn' },
  });
  const run = uniqueName('recreate');
  const events = await watchStartEvents(fleet.b.docker, run);
  try {
    const tunnelId = await hostTunnelId(fleet, fleet.b);
    const hostname = `${run}.${ZONE}`;
    const name = `${run}-web-1`;
    const labels = (port: number) => ({
      [RUN_LABEL]: run,
      'com.docker.compose.project': run,
      'com.docker.compose.service': 'web',
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': hostname,
      'tunnelfleet.service': `http://web:${port}`,
    });
    let current: TestContainer = await fleet.b.runContainer({ name, labels: labels(1000) });
    await waitFor(() => serviceAt(fleet, tunnelId, hostname) === 'http://web:1000', {
      description: 'the first publication',
      timeoutMs: 60_000,
    });
    const latencies: number[] = [];
    for (let i = 1; i <= recreates; i++) {
      const service = `http://web:${1000 + i}`;
      await current.container.remove({ force: true });
      current = await fleet.b.runContainer({ name, labels: labels(1000 + i) });
      const publishedAt = await waitFor(
        () => (serviceAt(fleet, tunnelId, hostname) === service ? Date.now() : 0),
        {
          description: `${service} at the emulator (recreate ${i})`,
          timeoutMs: 60_000,
          intervalMs: 5,
        },
      );
      const startedAt = await waitFor(() => events.startedAt.get(current.id), {
        description: `the start event of recreate ${i}`,
      });
      latencies.push(publishedAt - startedAt);
      if (i % 25 === 0) process.stderr.write(`[recreate] ${i} recreates\n`);
      // Recreates are spread out, not a burst: each one is timed alone.
      await delay(50 + Math.random() * 100);
    }
    const routes = await fleet.admin.routes({ hostname });
    const s = summarize(latencies);
    console.log(
      `Recreate (${new Date().toISOString()}, node ${process.version}): new container's start event → its service in the ingress rule at the emulator, grace period 600 s`,
    );
    const row = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
    row(['', 'n', 'p50', 'p90', 'p99', 'max']);
    row(['---', '---', '---', '---', '---', '---']);
    row([
      'recreate → new service',
      String(s.n),
      formatMs(s.p50),
      formatMs(s.p90),
      formatMs(s.p99),
      formatMs(s.max),
    ]);
    console.log(
      `baseline: the quiet window, ${DEFAULT_DEBOUNCE_MS} ms: p50 = ${formatRatio(s.p50, DEFAULT_DEBOUNCE_MS)} it, ` +
        `p99 = ${formatRatio(s.p99, DEFAULT_DEBOUNCE_MS)} it (before route identity: the grace period, 600 s)`,
    );
    console.log(
      `routes for the hostname after ${recreates} recreates: ${routes.length} (${routes.map((r) => r.status).join(', ')}), ` +
        `conflicts: ${(await fleet.admin.conflicts()).length}`,
    );
  } finally {
    events.close();
    await tearDownKeepingFigures(fleet);
  }
}

runBench(main);
