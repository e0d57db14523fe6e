/**
 * Benchmark: N simulated agents speaking the real HTTP protocol (no Docker) against the real
 * master process, each with 20 labelled containers: register, snapshot with fingerprint,
 * heartbeats (a snapshot every 10th), container restarts as event reports, a long-poll held open.
 * Baseline: the same run with 10 agents. Figures: client-side latency per endpoint, master RSS and
 * CPU from /proc, Redis connections (CLIENT LIST).
 *
 *   pnpm build && node test/dist/bench/fleet-scale.js [agents=1000] [baselineAgents=10] [intervalSeconds=5] [steadySeconds=60] [approved=0] [compression=10]
 *
 * approved=1: keys with auto-approval, so every agent gets a tunnel (2 Cloudflare calls each) and
 * its routes are published, against the emulator's rate limit (1,200 per window) with the window
 * compressed (300 s / compression, the master told the same); the hosts' zones are spread over 100
 * zones. The ramp then includes the enrolment's Cloudflare backlog.
 *
 * The heartbeat interval defaults to 5 s, the default 30 s compressed 6×, so a short run carries
 * the request rate of a fleet six times larger (container restarts are compressed alike).
 *
 * `FLEET_POLL_WAIT_SECONDS=N`: the master's COMMAND_POLL_WAIT_SECONDS (default 25), which the
 * simulated agents follow as real ones do.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { masterConfigSpec } from '@tunnelfleet/common';
import { startCloudflareEmulator } from '../cloudflare-emulator/index.js';
import { startRedisServer } from '../harness/redis-server.js';
import {
  createCloudflareAccount,
  type MasterProcess,
  shippedMasterNodeOptions,
  startMasterProcess,
} from '../system/index.js';
import { inBatches } from './in-batches.js';
import { createLatencyLog, formatMs, formatRatio, type LatencyLog } from './latency-stats.js';
import { cpuPercent, formatMb, mainThreadSchedule, processUsage } from './process-usage.js';
import { runBench } from './run-bench.js';
import { startSimulatedFleet } from './simulated-fleet.js';

const CONTAINERS_PER_AGENT = 20;
/** At the default 30 s schedule a host restarts one of its containers every 5 minutes on average. */
const RESTART_EVERY_MS_AT_DEFAULT_SCHEDULE = 300_000;
const KEY_CREATION_CONCURRENCY = 20;
const ZONE = 'bench.example.com';
/** Approved mode: hosts spread over this many zones (a zone of 200,000 records is not a fleet's shape). */
const APPROVED_ZONES = Array.from({ length: 100 }, (_, i) => `z${i}.bench.example.com`);
/** What the profiling preloads of `bench/` read from the master's environment. */
const PROFILER_SETTINGS = [
  'CPU_PROFILE_DIR',
  'CPU_PROFILE_SLICE_SECONDS',
  'MEMORY_USAGE_DIR',
  'EVENT_LOOP_DELAY_DIR',
  'HEAP_PROFILE_DIR',
  'HEAP_PROFILE_PROMOTED',
  'HEAP_PROFILE_SLICE_SECONDS',
];
/** The load generator runs this many agents per child process (one event loop, one descriptor table each). */
const AGENTS_PER_PROCESS = 1000;
/** Approved mode: how long the run waits for every route's DNS record at the emulator. */
const PUBLISH_DEADLINE_MS = 1_800_000;
/** After the ramp, how long the run waits for every agent's registration and first snapshot. */
const REGISTRATION_DEADLINE_MS = 300_000;

interface FleetFigures {
  agents: number;
  /** Agents whose registration succeeded by the deadline (a failed one retries forever, like the real agent). */
  registered: number;
  /** From the first registration to every agent registered with its first snapshot sent (or the deadline). */
  registrationSeconds: number;
  /** Approved mode: from the first registration to every route's DNS record at the emulator (or the deadline). */
  publishedSeconds: number;
  ramp: LatencyLog;
  steady: LatencyLog;
  errors: Map<string, number>;
  idleRssBytes: number;
  rssBytes: number;
  peakRssBytes: number;
  cpuPercent: number;
  /** Steady phase: how long the master's main thread was ready to run but waited for a CPU (% of the phase). */
  masterCpuWaitPercent: number;
  /** Steady phase: the load generator's child processes together (% of one core). */
  loadGeneratorCpuPercent: number;
  /** Steady phase: this process, which runs the Cloudflare emulator (% of one core). */
  emulatorCpuPercent: number;
  redisConnections: number;
  longPollsHeld: number;
  requestsPerSecond: number;
  cloudflareCalls: number;
  /** Cloudflare calls by route: the ramp (registration and the enrolment's backlog) and the steady phase. */
  callsByRoute: { ramp: Record<string, number>; steady: Record<string, number> };
  /** Approved mode: tunnels at the emulator at the end. */
  tunnels: number;
  loadGeneratorLagP99Ms: number;
}

interface FleetMode {
  approved: boolean;
  compression: number;
}

/**
 * `FLEET_PIN_CPUS=1`: the master's main thread gets CPU 0, which no other process uses, as if the load came from
 * other machines: everything else (this process with the emulator, Redis, the load generator's
 * children, which inherit it) runs on CPU 1. The master's other threads (V8's garbage collection
 * helpers, libuv's pool) may use both, as they would on a machine of its own. Without it, every
 * process shares both CPUs.
 * `FLEET_PIN_CPUS=main-alone`: the same, but the master's other threads stay on CPU 1 too, so
 * nothing can take CPU 0 from its main thread: it tells the loop's own work apart from time lost
 * to the garbage collector's concurrent threads sharing the main thread's CPU.
 */
const PIN_MODE = process.env.FLEET_PIN_CPUS;
const POLL_WAIT_SECONDS =
  process.env.FLEET_POLL_WAIT_SECONDS ?? masterConfigSpec.commandPollWaitSeconds.defaultValue ?? '';
const PIN_CPUS = PIN_MODE === '1' || PIN_MODE === 'main-alone';

/** Sets the CPUs of a process's main thread, or with `allThreads` of every thread (`taskset`, util-linux). */
function pinToCpus(pid: number, cpus: string, allThreads = false): void {
  execFileSync('taskset', [...(allThreads ? ['-a'] : []), '-p', '-c', cpus, String(pid)], {
    stdio: 'ignore',
  });
}

/** Progress goes to stderr so stdout holds only the figures. */
const progress = (message: string) => process.stderr.write(`[fleet-scale] ${message}\n`);

async function runFleet(
  agents: number,
  intervalSeconds: number,
  steadySeconds: number,
  mode: FleetMode,
): Promise<FleetFigures> {
  progress(`${agents} agents: starting the master`);
  const redis = await startRedisServer();
  const windowSeconds = Math.round(300 / mode.compression);
  const emulator = await startCloudflareEmulator(
    mode.approved ? { rateLimit: { requests: 1200, windowSeconds } } : {},
  );
  let master: MasterProcess | undefined;
  let fleet: ReturnType<typeof startSimulatedFleet> | undefined;
  let loadGeneratorLagP99Ms = Number.NaN;
  try {
    master = await startMasterProcess({
      redisUrl: redis.url,
      cloudflare: createCloudflareAccount(emulator, mode.approved ? APPROVED_ZONES : [ZONE]),
      env: {
        REPORT_INTERVAL_SECONDS: String(intervalSeconds),
        COMMAND_POLL_WAIT_SECONDS: POLL_WAIT_SECONDS,
        ...(mode.approved ? { CLOUDFLARE_WINDOW_SECONDS: String(windowSeconds) } : {}),
        // FLEET_MASTER_LOG_LEVEL=info, say, to count the master's syncs in its log (/tmp/tunnelfleet-master-*/master.log, while it runs).
        LOG_LEVEL: process.env.FLEET_MASTER_LOG_LEVEL ?? 'warn',
        // Admission control as shipped (the test harness turns its delay check off).
        ADMISSION_MAX_EVENT_LOOP_DELAY_MS: masterConfigSpec.admissionMaxEventLoopDelayMs.defaultValue ?? '',
        // As shipped, plus e.g. FLEET_MASTER_NODE_OPTIONS="--require $PWD/bench/cpu-profile.cjs" to
        // see where the master spends its time.
        NODE_OPTIONS: [shippedMasterNodeOptions(), process.env.FLEET_MASTER_NODE_OPTIONS ?? '']
          .join(' ')
          .trim(),
        // The settings of those preloads (bench/*.cjs), when given.
        ...Object.fromEntries(
          PROFILER_SETTINGS.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
        ),
      },
    });
    const pid = master.pid();
    if (pid === undefined) throw new Error('the master process has no pid');
    if (PIN_CPUS) {
      pinToCpus(pid, PIN_MODE === 'main-alone' ? '1' : '0,1', true);
      pinToCpus(pid, '0');
    }
    await delay(2000);
    const idle = processUsage(pid);
    // Pending agents (no auto-approval): registering 1,000 approved agents costs 3 Cloudflare calls
    // each, which Cloudflare's budget (1,200 per 5 min) spreads over 14 minutes; see RESULTS.md.
    const admin = master.admin;
    const keys = await inBatches(agents, KEY_CREATION_CONCURRENCY, async (i) => {
      return (await admin.createKey({ name: `bench-${i}`, autoApprove: mode.approved })).key;
    });
    progress(`${agents} agents: keys created, registering`);
    const ramp = createLatencyLog();
    const steady = createLatencyLog();
    // A request belongs to the phase it started in (one that started in the ramp and ended in
    // the steady phase is a ramp figure).
    let steadyFrom = Number.POSITIVE_INFINITY;
    const errors = new Map<string, number>();
    const onError = (endpoint: string, message: string) => {
      const key = `${endpoint}: ${message.slice(0, 80)}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
    };
    // Registrations spread over 30 s: a fleet does not start in the same second.
    const rampMs = Math.min(30_000, agents * 30);
    const rampStarted = performance.now();
    const running = startSimulatedFleet({
      url: master.url,
      agents: keys.map((key, i) => ({
        key,
        name: `h${i}`,
        zone: mode.approved ? APPROVED_ZONES[i % APPROVED_ZONES.length]! : ZONE,
      })),
      containers: CONTAINERS_PER_AGENT,
      meanEventIntervalMs: (RESTART_EVERY_MS_AT_DEFAULT_SCHEDULE * intervalSeconds) / 30,
      rampMs,
      processes: Math.ceil(agents / AGENTS_PER_PROCESS),
      onSample: ([name, ms, startedAt]) => (startedAt < steadyFrom ? ramp : steady).add(name, ms),
      onError,
    });
    fleet = running;
    // Bounded: agents not ready by then are counted, and the steady phase starts without waiting.
    const registrationDeadline = new AbortController();
    const readyBy = delay(rampMs + REGISTRATION_DEADLINE_MS, undefined, {
      signal: registrationDeadline.signal,
    }).then(
      () => progress(`${agents} agents: registration deadline`),
      () => undefined,
    );
    await Promise.race([fleet.ready, readyBy]);
    registrationDeadline.abort();
    const registrationSeconds = (performance.now() - rampStarted) / 1000;
    const registered = fleet.registered();
    // Approved mode: the steady phase is a fleet whose routes are published. Until then the master
    // works through the enrolment's Cloudflare backlog (2 calls a tunnel, its zones' records, every
    // tunnel's ingress) at the budget's pace; that belongs to the ramp (its RSS peak included).
    let publishedSeconds = Number.NaN;
    if (mode.approved) {
      // Hosts still registering after the deadline count too (they retry until they are in): a
      // steady phase that still enrols them measures the ramp, not a settled fleet.
      const wanted = () => running.registered() * CONTAINERS_PER_AGENT;
      const publishedBy = Date.now() + PUBLISH_DEADLINE_MS;
      // Every record and ingress rule at the emulator is one of the hosts' (its only zones and
      // tunnels are theirs). A host whose first snapshot failed sends it again only when asked, so
      // the counts can stop short of `wanted`: the backlog is done too once neither has moved for
      // 30 s. Rules count as well as records: the zones' syncs may wait behind the tunnels' in the
      // budget's queue, and a fleet whose tunnels are still being configured is not settled.
      const published = () => {
        let rules = 0;
        for (const tunnel of emulator.tunnels()) {
          const config = emulator.tunnelConfig(String(tunnel.id))?.config as
            | { ingress?: unknown[] }
            | undefined;
          // The last rule is the catch-all.
          rules += Math.max(0, (config?.ingress?.length ?? 0) - 1);
        }
        return { records: emulator.dnsRecords().length, rules };
      };
      const settled = (count: { records: number; rules: number }) =>
        count.records >= wanted() && count.rules >= wanted();
      let last = published();
      let stillSince = Date.now();
      while (!settled(last) && Date.now() < publishedBy && Date.now() - stillSince < 30_000) {
        await delay(10_000);
        const count = published();
        if (count.records !== last.records || count.rules !== last.rules) stillSince = Date.now();
        last = count;
      }
      progress(
        `${agents} agents: ${last.records} records and ${last.rules} ingress rules published of ${wanted()} each (${running.registered()} hosts registered)`,
      );
      publishedSeconds = (performance.now() - rampStarted) / 1000;
    }
    // Let the first heartbeats spread out before measuring.
    await delay(intervalSeconds * 1000);

    progress(`${agents} agents: registered, steady phase of ${steadySeconds} s`);
    steadyFrom = Date.now();
    const rampCalls = emulator.countsByRoute();
    emulator.clearCalls();
    fleet.resetLag();
    const before = processUsage(pid);
    const scheduleBefore = mainThreadSchedule(pid);
    const loadBefore = fleet.pids().map(processUsage);
    const emulatorBefore = processUsage(process.pid);
    let redisConnections = 0;
    const deadline = Date.now() + steadySeconds * 1000;
    while (Date.now() < deadline) {
      await delay(Math.min(5000, deadline - Date.now()));
      redisConnections = Math.max(redisConnections, await redis.connectionCount());
    }
    const after = processUsage(pid);
    const scheduleAfter = mainThreadSchedule(pid);
    const loadAfter = fleet.pids().map(processUsage);
    const emulatorAfter = processUsage(process.pid);
    loadGeneratorLagP99Ms = await fleet.stop();
    const requests = steady.all().length;
    return {
      agents,
      registered,
      registrationSeconds,
      publishedSeconds,
      ramp,
      steady,
      errors,
      idleRssBytes: idle.rssBytes,
      rssBytes: after.rssBytes,
      peakRssBytes: after.peakRssBytes,
      cpuPercent: cpuPercent(before, after),
      masterCpuWaitPercent:
        ((scheduleAfter.waitSeconds - scheduleBefore.waitSeconds) * 100_000) /
        (scheduleAfter.at - scheduleBefore.at),
      loadGeneratorCpuPercent: loadBefore.reduce(
        (sum, usage, i) => sum + cpuPercent(usage, loadAfter[i]!),
        0,
      ),
      emulatorCpuPercent: cpuPercent(emulatorBefore, emulatorAfter),
      redisConnections,
      longPollsHeld: registered,
      requestsPerSecond: requests / steadySeconds,
      cloudflareCalls: emulator.calls().length,
      callsByRoute: { ramp: rampCalls, steady: emulator.countsByRoute() },
      tunnels: emulator.tunnels().length,
      loadGeneratorLagP99Ms,
    };
  } finally {
    progress(`${agents} agents: stopping`);
    await fleet?.stop();
    progress(`${agents} agents: stopping the master`);
    await master?.close();
    await emulator.close();
    await redis.stop();
  }
}

function report(baseline: FleetFigures, fleet: FleetFigures): void {
  const row = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
  /** One endpoint's latencies in one phase of one run. */
  const latencyRow = (figures: FleetFigures, phase: 'steady' | 'ramp', endpoint: string) => {
    const s = figures[phase].summary(endpoint);
    row([
      phase === 'ramp' ? `${endpoint} (ramp)` : endpoint,
      String(figures.agents),
      String(s.n),
      formatMs(s.p50),
      formatMs(s.p90),
      formatMs(s.p99),
      formatMs(s.max),
    ]);
  };
  console.log(`\nLatency per endpoint, steady phase (client side, loopback)`);
  row(['endpoint', 'agents', 'n', 'p50', 'p90', 'p99', 'max']);
  row(['---', '---', '---', '---', '---', '---', '---']);
  const endpoints = [...new Set([...baseline.steady.names(), ...fleet.steady.names()])];
  for (const endpoint of endpoints) {
    for (const figures of [baseline, fleet]) {
      latencyRow(figures, 'steady', endpoint);
    }
  }
  for (const figures of [baseline, fleet]) {
    for (const endpoint of figures.ramp.names()) {
      latencyRow(figures, 'ramp', endpoint);
    }
  }
  console.log(`\nMaster process and Redis`);
  row(['', `${baseline.agents} agents`, `${fleet.agents} agents`, 'ratio']);
  row(['---', '---', '---', '---']);
  row([
    'requests/s (excl. long-polls)',
    baseline.requestsPerSecond.toFixed(1),
    fleet.requestsPerSecond.toFixed(1),
    formatRatio(fleet.requestsPerSecond, baseline.requestsPerSecond),
  ]);
  row(['agents registered', String(baseline.registered), String(fleet.registered), '']);
  row([
    'ramp: registrations + first snapshots done after (s)',
    baseline.registrationSeconds.toFixed(1),
    fleet.registrationSeconds.toFixed(1),
    '',
  ]);
  if (!Number.isNaN(fleet.publishedSeconds)) {
    row([
      'ramp: every route published after (s)',
      baseline.publishedSeconds.toFixed(1),
      fleet.publishedSeconds.toFixed(1),
      '',
    ]);
  }
  row(['long-polls held open', String(baseline.longPollsHeld), String(fleet.longPollsHeld), '']);
  row(['master RSS idle (before agents)', formatMb(baseline.idleRssBytes), formatMb(fleet.idleRssBytes), '']);
  row([
    'master RSS end of steady phase',
    formatMb(baseline.rssBytes),
    formatMb(fleet.rssBytes),
    formatRatio(fleet.rssBytes, baseline.rssBytes),
  ]);
  row([
    'master RSS peak (VmHWM)',
    formatMb(baseline.peakRssBytes),
    formatMb(fleet.peakRssBytes),
    formatRatio(fleet.peakRssBytes, baseline.peakRssBytes),
  ]);
  /** A percentage of both runs, without a ratio. */
  const percentRow = (label: string, of: (figures: FleetFigures) => number) =>
    row([label, of(baseline).toFixed(1), of(fleet).toFixed(1), '']);
  percentRow('master CPU (% of one core)', (f) => f.cpuPercent);
  percentRow("master's main thread waiting for a CPU (% of the steady phase)", (f) => f.masterCpuWaitPercent);
  percentRow('load generator CPU (% of one core)', (f) => f.loadGeneratorCpuPercent);
  percentRow('Cloudflare emulator (the bench process) CPU (% of one core)', (f) => f.emulatorCpuPercent);
  row([
    'Redis connections (max seen)',
    String(baseline.redisConnections),
    String(fleet.redisConnections),
    formatRatio(fleet.redisConnections, baseline.redisConnections),
  ]);
  row([
    'Cloudflare calls in steady phase',
    String(baseline.cloudflareCalls),
    String(fleet.cloudflareCalls),
    '',
  ]);
  row(['tunnels at the emulator', String(baseline.tunnels), String(fleet.tunnels), '']);
  row([
    'load generator event-loop lag p99',
    formatMs(baseline.loadGeneratorLagP99Ms),
    formatMs(fleet.loadGeneratorLagP99Ms),
    '',
  ]);
  console.log(`\nCloudflare calls by route (${fleet.agents} agents)`);
  row(['route', 'ramp', 'steady']);
  row(['---', '---', '---']);
  const { ramp, steady } = fleet.callsByRoute;
  for (const route of [...new Set([...Object.keys(ramp), ...Object.keys(steady)])].sort())
    row([route, String(ramp[route] ?? 0), String(steady[route] ?? 0)]);
  for (const figures of [baseline, fleet]) {
    for (const [error, count] of figures.errors)
      console.log(`errors (${figures.agents} agents): ${count} × ${error}`);
  }
  // Admission control's 503s are answers to come back later, not the latency of an endpoint.
  const worstP99 = Math.max(
    ...fleet.steady
      .names()
      .filter((name) => !name.endsWith(' 503'))
      .map((name) => fleet.steady.summary(name).p99),
  );
  console.log(
    `\ntarget p99 ≤ 50 ms: ${worstP99 <= 50 ? 'met' : 'MISSED'} (worst endpoint p99 ${formatMs(worstP99)})`,
  );
  console.log(
    `target RSS ≤ 400 MB: ${fleet.peakRssBytes <= 400 * 1024 * 1024 ? 'met' : 'MISSED'} (peak ${formatMb(fleet.peakRssBytes)})`,
  );
  console.log(
    `issue 15 targets at 10,000 hosts: p99 ≤ 100 ms ${worstP99 <= 100 ? 'met' : 'MISSED'}, RSS ≤ 1 GB ${
      fleet.peakRssBytes <= 1024 * 1024 * 1024 ? 'met' : 'MISSED'
    }`,
  );
  console.log(
    `target Redis connections independent of agents: ratio ${formatRatio(fleet.redisConnections, baseline.redisConnections)}`,
  );
}

async function main(): Promise<void> {
  const [
    agents = 1000,
    baselineAgents = 10,
    intervalSeconds = 5,
    steadySeconds = 60,
    approved = 0,
    compression = 10,
  ] = process.argv.slice(2).map(Number);
  const mode = { approved: approved === 1, compression };
  // Before Redis, the emulator and the load generator start: they inherit this process's CPU.
  if (PIN_CPUS) pinToCpus(process.pid, '1', true);
  console.log(
    `Fleet scale (${new Date().toISOString()}, node ${process.version}): ${agents} vs ${baselineAgents} agents, ` +
      `${CONTAINERS_PER_AGENT} containers each, heartbeat every ${intervalSeconds} s, command polls of ${POLL_WAIT_SECONDS} s, ${steadySeconds} s steady phase` +
      (mode.approved ? `, approved (Cloudflare window 300 s / ${compression})` : ', pending') +
      (PIN_CPUS ? "; the master's main thread alone on CPU 0, everything else on CPU 1" : '') +
      (PIN_MODE === 'main-alone' ? " (the master's other threads included)" : ''),
  );
  const baseline = await runFleet(baselineAgents, intervalSeconds, steadySeconds, mode);
  const fleet = await runFleet(agents, intervalSeconds, steadySeconds, mode);
  report(baseline, fleet);
}

runBench(main);
