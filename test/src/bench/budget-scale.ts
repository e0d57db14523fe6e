/**
 * Benchmark: approved hosts with tunnels against the Cloudflare emulator and its rate limit (1,200
 * calls per window per token, the window compressed), the real master process, simulated agents
 * speaking the real HTTP protocol (no Docker). Per run:
 *  1. enrolment: the hosts register (keys with auto-approval) over a ramp, each with 20 labelled
 *     containers in one of ten zones, until every route is published at the emulator;
 *  2. steady phase, a little longer than one drift period: a new container every few seconds on a
 *     random host, timed from its event report until its CNAME and ingress rule are at the
 *     emulator; the budget API sampled (drift period, oldest check's age, calls by lane);
 *  3. 100 hosts enrol together: Cloudflare calls per enrolled host;
 *  4. 200 new containers start on hosts, 50 ms apart, twice: alone (the same-run control), then
 *     while another tool on the same token spends half the budget; every one must converge, none
 *     lost. The budget API (change backlog, 429 pause) and the master's CPU are sampled meanwhile.
 * Baseline: the same run with 10 hosts.
 *
 *   pnpm build && node test/dist/bench/budget-scale.js [hosts=1000] [baselineHosts=10] [compression=10]
 *
 * Compression C divides Cloudflare's 300 s window (CLOUDFLARE_WINDOW_SECONDS, and the emulator's)
 * and the drift period (60 min → 60/C min) alike, so the budget's share and the number of checks
 * per period are those of real time; convergence latency is wall-clock time (not compressed).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { type CloudflareBudgetResponse, cloudflareBudgetResponseSchema } from '@tunnelfleet/common';
import { type CloudflareEmulator, startCloudflareEmulator } from '../cloudflare-emulator/index.js';
import { startRedisServer } from '../harness/redis-server.js';
import { createCloudflareAccount, type MasterProcess, startMasterProcess } from '../system/index.js';
import { formatMs, summarize } from './latency-stats.js';
import { cpuPercent, formatMb, mainThreadSchedule, processUsage } from './process-usage.js';
import { type SimulatedAgent, startSimulatedAgent } from './simulated-agent.js';

const CONTAINERS_PER_HOST = 20;
const ZONES = Array.from({ length: 10 }, (_, i) => `z${i}.bench.example`);
const CLOUDFLARE_LIMIT = 1200;
const REAL_WINDOW_SECONDS = 300;
const REAL_DRIFT_PERIOD_MINUTES = 60;
const TOGETHER = 100;
const UNDER_PRESSURE = 200;

// With the monotonic clock in µs, which a master's CPU profile (bench/cpu-profile.cjs) also uses:
// bench/cpu-profile-slice.cjs cuts the profile between two of these lines.
const progress = (message: string) =>
  process.stderr.write(`[budget-scale] ${message} (clock ${process.hrtime.bigint() / 1000n} µs)\n`);

interface BurstFigures {
  latencies: number[];
  lost: number;
  outsideCalls: number;
  /** The other tool's calls per window, as a share of Cloudflare's limit. */
  outsideShare: number;
  /** Calls the master made while the burst ran (every call but the other tool's). */
  masterCalls: number;
  /** 429s seen by anyone (the master or the other tool). */
  rateLimited: number;
  /** The budget API, sampled every 250 ms: most changes waiting for a slot, the longest wait, a 429 pause. */
  changeQueuedMax: number;
  changeWaitMaxSeconds: number;
  pausedMaxSeconds: number;
  /** The master's CPU while the changes came and converged, % of one core. */
  masterCpuPercent: number;
  /**
   * Main threads of the master and of this process (emulator, agents, poller) meanwhile: time run,
   * and time ready to run but waiting for a CPU the machine's other work held.
   */
  masterThread: ThreadTime;
  benchThread: ThreadTime;
}

interface ThreadTime {
  runSeconds: number;
  waitSeconds: number;
  wallSeconds: number;
}

interface RunFigures {
  hosts: number;
  enrolSeconds: number;
  enrolCalls: number;
  convergence: number[];
  convergenceLost: number;
  windowSeconds: number;
  driftPeriodSeconds: number;
  /** Emulator calls in the busiest window of the steady phase, all and without the new containers' changes. */
  busiestWindowCalls: number;
  driftCallsMax: number;
  driftEffectivePeriodSeconds: number;
  oldestCheckAgeMaxSeconds: number;
  /** Targets checked at least once by the end (one added late waits for its place in the period). */
  checkedTargets: number;
  targets: number;
  togetherCallsPerHost: number;
  /** The burst of changes alone (same-run control), and while another tool spends half the budget. */
  alone: BurstFigures;
  shared: BurstFigures;
  peakRssBytes: number;
}

async function budgetOf(master: MasterProcess): Promise<CloudflareBudgetResponse> {
  const response = await fetch(`${master.url}/api/v1/admin/cloudflare/budget`, {
    headers: { authorization: `Bearer ${master.adminToken}` },
  });
  return cloudflareBudgetResponseSchema.parse(await response.json());
}

interface Pending {
  hostname: string;
  zone: string;
  tunnelOf: () => string | undefined;
  started: number;
  deadline: number;
  settle: (ms: number | undefined) => void;
}

/**
 * Times hostnames until their CNAME and ingress rule are both at the emulator. One poller for all
 * (every 20 ms, one read per zone and tunnel), not one per hostname: the emulator runs in this
 * process, and a scan per waiting hostname would slow down the very answers being timed.
 */
function createConvergenceWatch(emulator: CloudflareEmulator) {
  const pending = new Set<Pending>();
  let polling = false;
  const poll = () => {
    const now = performance.now();
    const names = new Map<string, Set<string>>();
    const rules = new Map<string, Set<string>>();
    for (const wait of pending) {
      let zone = names.get(wait.zone);
      if (!zone) {
        zone = new Set(emulator.dnsRecords(wait.zone).map((r) => String(r.name)));
        names.set(wait.zone, zone);
      }
      const tunnelId = wait.tunnelOf();
      let tunnel = tunnelId ? rules.get(tunnelId) : undefined;
      if (tunnelId && !tunnel) {
        const config = emulator.tunnelConfig(tunnelId)?.config as
          | { ingress?: { hostname?: string }[] }
          | undefined;
        tunnel = new Set((config?.ingress ?? []).flatMap((rule) => (rule.hostname ? [rule.hostname] : [])));
        rules.set(tunnelId, tunnel);
      }
      if (zone.has(wait.hostname) && tunnel?.has(wait.hostname)) {
        pending.delete(wait);
        wait.settle(now - wait.started);
      } else if (now > wait.deadline) {
        pending.delete(wait);
        wait.settle(undefined);
      }
    }
    polling = pending.size > 0;
    if (polling) setTimeout(poll, 20);
  };
  return (hostname: string, zone: string, tunnelOf: () => string | undefined, timeoutMs: number) =>
    new Promise<number | undefined>((settle) => {
      const started = performance.now();
      pending.add({ hostname, zone, tunnelOf, started, deadline: started + timeoutMs, settle });
      if (!polling) {
        polling = true;
        setTimeout(poll, 20);
      }
    });
}

function busiest(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let start = 0, end = 0; start < sorted.length; start++) {
    while (end < sorted.length && sorted[end]! < sorted[start]! + windowMs) end++;
    best = Math.max(best, end - start);
  }
  return best;
}

async function runFleet(hosts: number, compression: number): Promise<RunFigures> {
  const windowSeconds = Math.round(REAL_WINDOW_SECONDS / compression);
  const driftPeriodSeconds = Math.round((REAL_DRIFT_PERIOD_MINUTES * 60) / compression);
  const redis = await startRedisServer();
  const emulator = await startCloudflareEmulator({
    rateLimit: { requests: CLOUDFLARE_LIMIT, windowSeconds },
  });
  const account = createCloudflareAccount(emulator, ZONES);
  let master: MasterProcess | undefined;
  const agents: SimulatedAgent[] = [];
  const agentZone: string[] = [];
  try {
    master = await startMasterProcess({
      redisUrl: redis.url,
      cloudflare: account,
      env: {
        REPORT_INTERVAL_SECONDS: '30',
        LOG_LEVEL: 'warn',
        CLOUDFLARE_WINDOW_SECONDS: String(windowSeconds),
        DRIFT_CHECK_PERIOD: `${driftPeriodSeconds}s`,
        // As in fleet-scale.ts: e.g. "--require $PWD/bench/cpu-profile.cjs" to profile the master.
        ...(process.env.FLEET_MASTER_NODE_OPTIONS
          ? { NODE_OPTIONS: process.env.FLEET_MASTER_NODE_OPTIONS }
          : {}),
      },
    });
    const pid = master.pid()!;
    const admin = master.admin;
    const waitConverged = createConvergenceWatch(emulator);
    const tunnelByAgent = new Map<string, string>();
    const tunnelOf = (agent: SimulatedAgent) => {
      const id = agent.id();
      if (!id) return undefined;
      let tunnel = tunnelByAgent.get(id);
      if (!tunnel) {
        tunnel = emulator.tunnels().find((t) => t.name === `tunnelfleet-${id}` && !t.deleted_at)?.id as
          | string
          | undefined;
        if (tunnel) tunnelByAgent.set(id, tunnel);
      }
      return tunnel;
    };
    const start = async (count: number, rampMs: number) => {
      const keys: string[] = [];
      for (let i = 0; i < count; i += 20) {
        const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) =>
          admin.createKey({ name: `bench-${agents.length + i + j}`, autoApprove: true }).then((r) => r.key),
        );
        keys.push(...(await Promise.all(batch)));
      }
      const started: SimulatedAgent[] = [];
      for (const key of keys) {
        const index = agents.length;
        const zone = ZONES[index % ZONES.length]!;
        const agent = startSimulatedAgent({
          url: master!.url,
          key,
          name: `h${index}`,
          zone,
          containers: CONTAINERS_PER_HOST,
          meanEventIntervalMs: 0,
          latencies: { add: () => undefined },
          onError: (endpoint, message) => progress(`${endpoint}: ${message.slice(0, 120)}`),
        });
        agents.push(agent);
        agentZone.push(zone);
        started.push(agent);
        if (rampMs > 0) await delay(rampMs / count);
      }
      await Promise.all(started.map((a) => a.ready));
      return started;
    };
    const allPublished = () => {
      const wanted = agents.length * CONTAINERS_PER_HOST;
      const records = ZONES.reduce((n, zone) => n + emulator.dnsRecords(zone).length, 0);
      if (records < wanted) return false;
      return agents.every((agent) => {
        const tunnel = tunnelOf(agent);
        const config = tunnel
          ? (emulator.tunnelConfig(tunnel)?.config as { ingress?: unknown[] })
          : undefined;
        return (config?.ingress?.length ?? 0) > CONTAINERS_PER_HOST;
      });
    };

    // 1. Enrolment of the fleet.
    progress(`${hosts} hosts: enrolling`);
    const enrolStarted = performance.now();
    await start(hosts, Math.min(60_000, hosts * 60));
    while (!allPublished()) await delay(1000);
    const enrolSeconds = (performance.now() - enrolStarted) / 1000;
    const enrolCalls = emulator.calls().length;
    progress(
      `${hosts} hosts: all ${hosts * CONTAINERS_PER_HOST} routes published in ${enrolSeconds.toFixed(0)} s`,
    );

    // 2. Steady phase: a little longer than one drift period (BUDGET_SCALE_SKIP_STEADY=1 skips it,
    // to iterate on the other phases).
    emulator.clearCalls();
    const steadyMs = process.env.BUDGET_SCALE_SKIP_STEADY ? 0 : (driftPeriodSeconds + windowSeconds) * 1000;
    const convergence: number[] = [];
    let convergenceLost = 0;
    let driftCallsMax = 0;
    let oldestCheckAgeMaxSeconds = 0;
    let driftEffectivePeriodSeconds = 0;
    const changeTimes: number[] = [];
    const steadyStarted = Date.now();
    const sampler = (async () => {
      while (Date.now() - steadyStarted < steadyMs) {
        const budget = await budgetOf(master!);
        driftCallsMax = Math.max(driftCallsMax, ...budget.tokens.map((t) => t.inWindow.drift));
        // Only once the first period has passed can a check be late.
        if (Date.now() - steadyStarted > driftPeriodSeconds * 1000) {
          oldestCheckAgeMaxSeconds = Math.max(oldestCheckAgeMaxSeconds, budget.drift.oldestCheckAgeSeconds);
        }
        driftEffectivePeriodSeconds = Math.max(0, ...budget.drift.tokens.map((t) => t.periodSeconds));
        await delay(5000);
      }
    })();
    const waits: Promise<void>[] = [];
    while (Date.now() - steadyStarted < steadyMs - 30_000) {
      const index = Math.floor(Math.random() * agents.length);
      const agent = agents[index]!;
      changeTimes.push(Date.now());
      const hostname = await agent.addContainer();
      waits.push(
        waitConverged(hostname, agentZone[index]!, () => tunnelOf(agent), 60_000).then((ms) => {
          if (ms === undefined) convergenceLost++;
          else convergence.push(ms);
        }),
      );
      await delay(3000);
    }
    await Promise.all(waits);
    await sampler;
    const steadyCalls = emulator.calls().filter((c) => c.status !== 429);
    const budgetEnd = await budgetOf(master);
    const checkedTargets = budgetEnd.drift.targets.filter((t) => t.lastCheckedAt !== null).length;
    const busiestWindowCalls = busiest(
      steadyCalls.map((c) => c.time),
      windowSeconds * 1000,
    );
    progress(`${hosts} hosts: steady phase done, ${steadyCalls.length} calls`);

    // 3. 100 hosts enrolling together (no containers, so only enrolment calls are counted).
    emulator.clearCalls();
    const keys = await Promise.all(
      Array.from({ length: TOGETHER }, (_, i) =>
        admin.createKey({ name: `together-${i}`, autoApprove: true }).then((r) => r.key),
      ),
    );
    const together = keys.map((key, i) =>
      startSimulatedAgent({
        url: master!.url,
        key,
        name: `t${i}`,
        zone: ZONES[0]!,
        containers: 0,
        meanEventIntervalMs: 0,
        latencies: { add: () => undefined },
        onError: (endpoint, message) => progress(`${endpoint}: ${message.slice(0, 120)}`),
      }),
    );
    await Promise.all(together.map((a) => a.ready));
    while (together.some((a) => !tunnelOf(a))) await delay(200);
    // Let their start_tunnel (token) calls finish too.
    await delay(2000);
    const tunnelCalls = emulator.calls().filter((c) => c.route?.includes('cfd_tunnel') && c.status !== 429);
    const togetherCallsPerHost =
      tunnelCalls.filter((c) => !c.route?.includes('configurations')).length / TOGETHER;
    agents.push(...together);
    agentZone.push(...together.map(() => ZONES[0]!));

    // 4. The same burst of changes twice: alone (the same-run control), then while another tool
    // spends half the budget. What differs between the two is the other tool.
    const burst = async (outsideShareWanted: number): Promise<BurstFigures> => {
      emulator.clearCalls();
      let outsideCalls = 0;
      const outside = new AbortController();
      // Fired at a fixed rate, not one after the other: its pace must not depend on the answers'.
      const perSecond = (CLOUDFLARE_LIMIT * outsideShareWanted) / windowSeconds;
      const outsideStarted = Date.now();
      const inFlight: Promise<unknown>[] = [];
      const outsideLoop = (async () => {
        while (perSecond > 0 && !outside.signal.aborted) {
          const due = outsideStarted + (outsideCalls * 1000) / perSecond;
          if (due > Date.now()) await delay(due - Date.now());
          outsideCalls++;
          inFlight.push(
            fetch(`${account.baseUrl}/zones?per_page=5`, {
              headers: { authorization: `Bearer ${account.apiToken}` },
            }).then(
              (r) => r.body?.cancel(),
              () => undefined,
            ),
          );
        }
      })();
      // Half a window before the changes, in both bursts: the other tool's pace settles, and the
      // control does not start in the wake of the previous phase (100 hosts just enrolled).
      await delay(windowSeconds * 500);
      // The master's side while the changes come: its change backlog (budget API) and CPU.
      let sampling = true;
      let changeQueuedMax = 0;
      let changeWaitMaxSeconds = 0;
      let pausedMaxSeconds = 0;
      const sampler = (async () => {
        while (sampling) {
          for (const token of (await budgetOf(master!)).tokens) {
            changeQueuedMax = Math.max(changeQueuedMax, token.queued.change);
            changeWaitMaxSeconds = Math.max(changeWaitMaxSeconds, token.oldestChangeWaitSeconds);
            pausedMaxSeconds = Math.max(pausedMaxSeconds, token.pausedSeconds);
          }
          await delay(250);
        }
      })();
      const cpuBefore = processUsage(pid);
      const scheduleBefore = [mainThreadSchedule(pid), mainThreadSchedule(process.pid)] as const;
      const latencies: number[] = [];
      let lost = 0;
      await Promise.all(
        Array.from({ length: UNDER_PRESSURE }, async (_, i) => {
          const index = Math.floor((i * (agents.length - TOGETHER)) / UNDER_PRESSURE);
          const agent = agents[index]!;
          await delay(i * 50);
          const hostname = await agent.addContainer();
          const ms = await waitConverged(
            hostname,
            agentZone[index]!,
            () => tunnelOf(agent),
            windowSeconds * 4000,
          );
          if (ms === undefined) lost++;
          else latencies.push(ms);
        }),
      );
      const masterCpuPercent = cpuPercent(cpuBefore, processUsage(pid));
      const [masterThread, benchThread] = [mainThreadSchedule(pid), mainThreadSchedule(process.pid)].map(
        (after, i) => ({
          runSeconds: after.runSeconds - scheduleBefore[i]!.runSeconds,
          waitSeconds: after.waitSeconds - scheduleBefore[i]!.waitSeconds,
          wallSeconds: (after.at - scheduleBefore[i]!.at) / 1000,
        }),
      );
      sampling = false;
      await sampler;
      outside.abort();
      await outsideLoop;
      await Promise.all(inFlight);
      const calls = emulator.calls();
      return {
        latencies,
        lost,
        outsideCalls,
        outsideShare:
          (outsideCalls * windowSeconds) / ((Date.now() - outsideStarted) / 1000) / CLOUDFLARE_LIMIT,
        // The other tool only lists zones; the master's zones are resolved once and cached.
        masterCalls: calls.filter((c) => c.route !== 'GET /zones' && c.status !== 429).length,
        rateLimited: calls.filter((c) => c.status === 429).length,
        changeQueuedMax,
        changeWaitMaxSeconds,
        pausedMaxSeconds,
        masterCpuPercent,
        masterThread: masterThread!,
        benchThread: benchThread!,
      };
    };
    progress(`${hosts} hosts: ${UNDER_PRESSURE} changes alone`);
    const alone = await burst(0);
    progress(`${hosts} hosts: ${UNDER_PRESSURE} changes with another tool at 50%`);
    const shared = await burst(0.5);
    progress(`${hosts} hosts: bursts done`);
    const usage = processUsage(pid);
    return {
      hosts,
      enrolSeconds,
      enrolCalls,
      convergence,
      convergenceLost,
      windowSeconds,
      driftPeriodSeconds,
      busiestWindowCalls,
      driftCallsMax,
      driftEffectivePeriodSeconds,
      oldestCheckAgeMaxSeconds,
      checkedTargets,
      targets: budgetEnd.drift.targets.length,
      togetherCallsPerHost,
      alone,
      shared,
      peakRssBytes: usage.peakRssBytes,
    };
  } finally {
    progress(`${hosts} hosts: stopping`);
    await Promise.all(agents.map((agent) => agent.stop()));
    await master?.close();
    await emulator.close();
    await redis.stop();
  }
}

function report(runs: RunFigures[]): void {
  const row = (cells: (string | number)[]) => console.log(`| ${cells.join(' | ')} |`);
  const [baseline, fleet] = runs as [RunFigures, RunFigures];
  const budgetPerWindow = Math.floor(CLOUDFLARE_LIMIT * 0.9);
  console.log(
    `\nWindow ${fleet.windowSeconds} s (300 s / ${REAL_WINDOW_SECONDS / fleet.windowSeconds}), drift period ${fleet.driftPeriodSeconds} s configured`,
  );
  row(['', `${baseline.hosts} hosts`, `${fleet.hosts} hosts`]);
  row(['---', '---', '---']);
  const both = (label: string, f: (r: RunFigures) => string | number) => row([label, f(baseline), f(fleet)]);
  both(
    'enrolment until every route is published',
    (r) => `${r.enrolSeconds.toFixed(0)} s, ${r.enrolCalls} calls`,
  );
  both('drift targets (tunnels + zones)', (r) => r.targets);
  both(
    'steady: busiest window, all calls (incl. new containers)',
    (r) =>
      `${r.busiestWindowCalls} (${((100 * r.busiestWindowCalls) / CLOUDFLARE_LIMIT).toFixed(1)}% of ${CLOUDFLARE_LIMIT})`,
  );
  both(
    'steady: drift calls in a window, max sampled',
    (r) => `${r.driftCallsMax} (${((100 * r.driftCallsMax) / CLOUDFLARE_LIMIT).toFixed(1)}%)`,
  );
  both('drift period each target gets', (r) => `${r.driftEffectivePeriodSeconds.toFixed(0)} s`);
  both('oldest check age, max after one period', (r) => `${r.oldestCheckAgeMaxSeconds.toFixed(0)} s`);
  both('targets checked at least once by the end', (r) => `${r.checkedTargets} of ${r.targets}`);
  for (const [label, pick] of [
    ['new container converges (steady, drift running)', (r: RunFigures) => r.convergence],
    [`${UNDER_PRESSURE} changes alone converge (control)`, (r: RunFigures) => r.alone.latencies],
    [`${UNDER_PRESSURE} changes converge, other tool at 50%`, (r: RunFigures) => r.shared.latencies],
  ] as const) {
    for (const r of runs) {
      const s = summarize(pick(r));
      row([
        `${label}, ${r.hosts} hosts`,
        `n ${s.n}, p50 ${formatMs(s.p50)}`,
        `p99 ${formatMs(s.p99)}, max ${formatMs(s.max)}`,
      ]);
    }
  }
  both(
    'changes lost (steady / alone / other tool)',
    (r) => `${r.convergenceLost} / ${r.alone.lost} / ${r.shared.lost}`,
  );
  both(`${TOGETHER} hosts enrolling together: calls per host`, (r) => r.togetherCallsPerHost.toFixed(2));
  both(
    'other tool: calls (share of the limit per window) / 429s seen by anyone',
    (r) =>
      `${r.shared.outsideCalls} (${(100 * r.shared.outsideShare).toFixed(0)}%) / ${r.shared.rateLimited}`,
  );
  for (const [label, pick] of [
    ['alone', (r: RunFigures) => r.alone],
    ['other tool', (r: RunFigures) => r.shared],
  ] as const) {
    both(
      `burst ${label}: master calls / changes waiting for the budget (max) / longest wait / 429 pause`,
      (r) => {
        const b = pick(r);
        return `${b.masterCalls} / ${b.changeQueuedMax} / ${b.changeWaitMaxSeconds.toFixed(2)} s / ${b.pausedMaxSeconds.toFixed(0)} s`;
      },
    );
    both(`burst ${label}: master CPU (% of one core)`, (r) => pick(r).masterCpuPercent.toFixed(0));
    both(`burst ${label}: main thread ran / waited for a CPU / wall, master; bench (emulator)`, (r) => {
      const t = (x: ThreadTime) =>
        `${x.runSeconds.toFixed(1)} / ${x.waitSeconds.toFixed(1)} / ${x.wallSeconds.toFixed(1)} s`;
      return `${t(pick(r).masterThread)}; ${t(pick(r).benchThread)}`;
    });
  }
  both('master peak RSS', (r) => formatMb(r.peakRssBytes));
  console.log(
    `\n(budget ceiling per window after the 10% reserve: ${budgetPerWindow}; drift share 10%: ${Math.floor(budgetPerWindow / 10)})`,
  );
}

const [hosts = 1000, baselineHosts = 10, compression = 10] = process.argv.slice(2).map(Number);
const runs: RunFigures[] = [];
for (const count of [baselineHosts, hosts]) runs.push(await runFleet(count, compression));
report(runs);
