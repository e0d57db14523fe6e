/**
 * Benchmark: from a container's Docker `start` event (the engine's own timestamp) to its DNS record
 * and ingress rule present at the Cloudflare emulator, one start at a time, through the whole
 * system (`startFleet`: the real agent of host B on a private second engine, real master, reconciler,
 * emulator).
 * Baseline, measured in the same run: the same pipeline with the reconciler's debounce at 0, which
 * shows what the default quiet window (SYNC_DEBOUNCE_MS, the price of folding a burst into one write) costs.
 *
 *   pnpm build && node test/dist/bench/convergence.js [starts=200] [baselineStarts=100]
 */
import { setTimeout as delay } from 'node:timers/promises';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import { type Fleet, startFleet, type TestContainer } from '../system/index.js';
import { hostTunnelId } from './host-tunnel.js';
import { formatMs, formatRatio, type LatencySummary, summarize } from './latency-stats.js';
import { runBench, tearDownKeepingFigures } from './run-bench.js';
import { RUN_LABEL, watchStartEvents } from './start-events.js';

const ZONE = 'example.com';
/** Host B's engine is private to this run (no test file uses it): its agent sees only ours. */
const SECOND_ENGINE = 'docker19';

function published(fleet: Fleet, tunnelId: string, hostname: string): boolean {
  if (!fleet.emulator.dnsRecords(ZONE).some((record) => record.name === hostname)) return false;
  const config = fleet.emulator.tunnelConfig(tunnelId)?.config as { ingress?: { hostname?: string }[] };
  return (config?.ingress ?? []).some((rule) => rule.hostname === hostname);
}

/** The master's default SYNC_DEBOUNCE_MS (common/src/config/master-config.ts). */
const DEFAULT_DEBOUNCE_MS = 150;

async function measure(debounceMs: number, starts: number): Promise<LatencySummary> {
  const fleet = await startFleet({
    secondEngine: SECOND_ENGINE,
    zones: [ZONE],
    masterEnv: { SYNC_DEBOUNCE_MS: String(debounceMs), REPORT_INTERVAL_SECONDS: '30', LOG_LEVEL: 'warn' },
    agentEnv: { REPORT_INTERVAL_SECONDS: '30', LOG_LEVEL: 'warn' },
  });
  const run = uniqueName('conv');
  const events = await watchStartEvents(fleet.b.docker, run);
  try {
    const tunnelId = await hostTunnelId(fleet, fleet.b);
    const containers: TestContainer[] = [];
    for (let i = 0; i < starts; i += 10) {
      containers.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, starts - i) }, (_, j) =>
            fleet.b.runContainer({
              start: false,
              labels: {
                [RUN_LABEL]: run,
                'tunnelfleet.enable': 'true',
                'tunnelfleet.hostname': `${run}-${i + j}.${ZONE}`,
                'tunnelfleet.service': 'http://localhost:80',
              },
            }),
          ),
        )),
      );
    }
    process.stderr.write(`[convergence] debounce ${debounceMs} ms: ${starts} containers created\n`);
    const latencies: number[] = [];
    for (const [i, container] of containers.entries()) {
      const hostname = `${run}-${i}.${ZONE}`;
      await container.container.start();
      const publishedAt = await waitFor(() => (published(fleet, tunnelId, hostname) ? Date.now() : 0), {
        description: `${hostname} at the emulator`,
        timeoutMs: 30_000,
        intervalMs: 5,
      });
      const startedAt = await waitFor(() => events.startedAt.get(container.id), {
        description: `the start event of ${container.name}`,
      });
      latencies.push(publishedAt - startedAt);
      if ((i + 1) % 50 === 0)
        process.stderr.write(`[convergence] debounce ${debounceMs} ms: ${i + 1} starts\n`);
      // Starts are spread out, not a burst: each one is timed alone.
      await delay(50 + Math.random() * 100);
    }
    return summarize(latencies);
  } finally {
    events.close();
    await tearDownKeepingFigures(fleet);
  }
}

async function main(): Promise<void> {
  const [starts = 200, baselineStarts = 100] = process.argv.slice(2).map(Number);
  console.log(
    `Convergence (${new Date().toISOString()}, node ${process.version}): Docker start event → record and rule at the emulator, one start at a time`,
  );
  const row = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
  const line = (name: string, s: LatencySummary) =>
    row([name, String(s.n), formatMs(s.p50), formatMs(s.p90), formatMs(s.p99), formatMs(s.max)]);
  row(['', 'n', 'p50', 'p90', 'p99', 'max']);
  row(['---', '---', '---', '---', '---', '---']);
  const ours = await measure(DEFAULT_DEBOUNCE_MS, starts);
  line(`Tunnelfleet, default debounce ${DEFAULT_DEBOUNCE_MS} ms`, ours);
  const noDebounce = await measure(0, baselineStarts);
  line('same pipeline, debounce 0 ms', noDebounce);
  console.log(
    `debounce cost: p50 +${formatMs(ours.p50 - noDebounce.p50)}, p99 +${formatMs(ours.p99 - noDebounce.p99)} ` +
      `(ratio p50 ${formatRatio(ours.p50, noDebounce.p50)})`,
  );
  console.log(`target p50 ≤ 0.5 s: ${ours.p50 <= 500 ? 'met' : 'MISSED'} (${formatMs(ours.p50)})`);
  console.log(`target p99 ≤ 1.5 s: ${ours.p99 <= 1500 ? 'met' : 'MISSED'} (${formatMs(ours.p99)})`);
}

runBench(main);
