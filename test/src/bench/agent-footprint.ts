/**
 * Benchmark: the real agent's RSS and CPU on a real Docker engine, idle and with N labelled
 * containers running, against a bare Node process (`setInterval(() => {}, 1000)`) measured the same
 * way in the same windows. Uses the whole-system harness (`startFleet`): the agent of host B on a private
 * second engine, the real master, heartbeats on the default 30 s schedule, logs at the default level.
 *
 *   pnpm build && node test/dist/bench/agent-footprint.js [containers=100] [sampleSeconds=30]
 */
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { waitFor } from '../harness/wait-for.js';
import { startFleet } from '../system/index.js';
import { cpuPercent, formatMb, type ProcessUsage, processUsage } from './process-usage.js';
import { runBench, tearDownKeepingFigures } from './run-bench.js';

const SETTLE_MS = 10_000;
/** A second engine no test file uses (they name docker2…docker17 and docker20; benches docker18…docker21). */
const SECOND_ENGINE = 'docker18';

interface Window {
  rssBytes: number;
  maxRssBytes: number;
  peakRssBytes: number;
  cpuPercent: number;
}

/** Samples each process every second for `seconds`; CPU is the average over the window. */
async function sample(pids: number[], seconds: number): Promise<Window[]> {
  const first = pids.map(processUsage);
  const max = first.map((u) => u.rssBytes);
  let last: ProcessUsage[] = first;
  for (let s = 0; s < seconds; s++) {
    await delay(1000);
    last = pids.map(processUsage);
    last.forEach((u, i) => {
      max[i] = Math.max(max[i]!, u.rssBytes);
    });
  }
  return last.map((u, i) => ({
    rssBytes: u.rssBytes,
    maxRssBytes: max[i]!,
    peakRssBytes: u.peakRssBytes,
    cpuPercent: cpuPercent(first[i]!, u),
  }));
}

async function main(): Promise<void> {
  const [containers = 100, sampleSeconds = 30] = process.argv.slice(2).map(Number);
  console.log(
    `Agent footprint (${new Date().toISOString()}, node ${process.version}): idle and with ${containers} labelled containers, ${sampleSeconds} s windows`,
  );
  const bare = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const fleet = await startFleet({
    secondEngine: SECOND_ENGINE,
    masterEnv: { REPORT_INTERVAL_SECONDS: '30', LOG_LEVEL: 'warn' },
    // AGENT_NODE_OPTIONS: the V8 flags the agent image runs with (deploy/agent.Dockerfile), to compare.
    agentEnv: {
      REPORT_INTERVAL_SECONDS: '30',
      ...(process.env.AGENT_NODE_OPTIONS ? { NODE_OPTIONS: process.env.AGENT_NODE_OPTIONS } : {}),
    },
  });
  try {
    // Host B: its engine is private to this run, so the agent sees only these containers.
    const host = fleet.b;
    const agentId = await host.agentId();
    const agentPid = host.agent.pid();
    if (agentPid === undefined || bare.pid === undefined) throw new Error('a measured process has no pid');
    const tunnelId = await waitFor(async () => (await fleet.admin.agent(agentId)).tunnel?.id, {
      description: 'the agent tunnel',
      timeoutMs: 30_000,
    });
    await waitFor(() => fleet.emulator.tunnelConnections(tunnelId).length > 0, {
      description: 'cloudflared connected to the emulated edge',
      timeoutMs: 60_000,
    });
    await delay(SETTLE_MS);
    const [idle, bareIdle] = await sample([agentPid, bare.pid], sampleSeconds);

    for (let i = 0; i < containers; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, containers - i) }, (_, j) =>
          host.runContainer({
            labels: {
              'tunnelfleet.enable': 'true',
              'tunnelfleet.hostname': `footprint-${i + j}.example.com`,
              'org.tunnelfleet-bench.run': 'agent-footprint',
              'tunnelfleet.service': 'http://localhost:80',
            },
          }),
        ),
      );
    }
    await waitFor(
      async () => (await fleet.admin.routes({ agentId, status: 'active' })).length >= containers,
      {
        description: `${containers} active routes`,
        timeoutMs: 120_000,
        intervalMs: 500,
      },
    );
    await delay(SETTLE_MS);
    const [loaded, bareLoaded] = await sample([agentPid, bare.pid], sampleSeconds);

    const row = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
    row(['', 'RSS end', 'RSS max', 'RSS peak (VmHWM)', 'CPU (% of one core)']);
    row(['---', '---', '---', '---', '---']);
    const line = (name: string, w: Window) =>
      row([
        name,
        formatMb(w.rssBytes),
        formatMb(w.maxRssBytes),
        formatMb(w.peakRssBytes),
        w.cpuPercent.toFixed(2),
      ]);
    line('agent, idle', idle!);
    line(`agent, ${containers} labelled containers`, loaded!);
    line('baseline: bare node, same window as idle', bareIdle!);
    line(`baseline: bare node, same window as ${containers} containers`, bareLoaded!);
    console.log(
      `agent RSS / bare node RSS: idle ${(idle!.rssBytes / bareIdle!.rssBytes).toFixed(2)}×, ` +
        `with ${containers} containers ${(loaded!.rssBytes / bareLoaded!.rssBytes).toFixed(2)}×`,
    );
    const worst = Math.max(idle!.peakRssBytes, loaded!.peakRssBytes);
    console.log(
      `target RSS ≤ 80 MB: ${worst <= 80 * 1024 * 1024 ? 'met' : 'MISSED'} (peak ${formatMb(worst)})`,
    );
  } finally {
    bare.kill();
    await tearDownKeepingFigures(fleet);
  }
}

runBench(main);
