/**
 * Benchmark: what one agent request costs the master, in CPU time (all its threads, the collector
 * included) and in latency at a fixed concurrency. N approved agents with C containers each are
 * enrolled first; then each kind of request is sent back to back for a fixed count, over keep-alive
 * connections, and the master's CPU time over that phase is divided by the requests answered.
 * Baseline: `GET /healthz`, the same HTTP stack with no authentication, body, store or Redis.
 *
 *   pnpm build && node test/dist/bench/agent-request-cost.js [agents=200] [requests=20000] [concurrency=16]
 *
 * `AGENT_COST_ONLY=poll` (or `heartbeat`, `report`) runs the baseline and that phase only, e.g. under
 * a profiler (`AGENT_COST_MASTER_NODE_OPTIONS="--require $PWD/bench/cpu-profile.cjs"`).
 *
 * Fleet-scale latency is the queue in front of the master's one thread; this is the cost that
 * fills it (at 10,000 hosts, 333 heartbeats, ~90 reports and, with polls of 110 s, ~90 renewals a
 * second).
 */
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AGENT_ROUTES,
  type Command,
  type Container,
  commandAckPath,
  type HeartbeatRequest,
  type RegisterRequest,
  type Report,
  snapshotFingerprint,
} from '@tunnelfleet/common';
import { startCloudflareEmulator } from '../cloudflare-emulator/index.js';
import { startRedisServer } from '../harness/redis-server.js';
import { createCloudflareAccount, shippedMasterNodeOptions, startMasterProcess } from '../system/index.js';
import { inBatches } from './in-batches.js';
import { formatMs, summarize } from './latency-stats.js';
import { processUsage } from './process-usage.js';
import { runBench } from './run-bench.js';
import { benchContainer } from './simulated-agent.js';

const ZONES = Array.from({ length: 10 }, (_, i) => `z${i}.cost.example.com`);
const CONTAINERS_PER_AGENT = 20;

interface Enrolled {
  key: string;
  agentId: string;
  containers: Container[];
  sequence: number;
}

const progress = (message: string) => process.stderr.write(`[agent-request-cost] ${message}\n`);

function send(
  connections: Agent,
  url: string,
  method: string,
  key: string | undefined,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (key) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = httpRequest(url, { agent: connections, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

interface PhaseFigures {
  name: string;
  requests: number;
  cpuMicrosPerRequest: number;
  latency: ReturnType<typeof summarize>;
}

async function main(): Promise<void> {
  const [agents = 200, requests = 20_000, concurrency = 16] = process.argv.slice(2).map(Number);
  console.log(
    `Agent request cost (${new Date().toISOString()}, node ${process.version}): ${agents} approved agents, ` +
      `${CONTAINERS_PER_AGENT} containers each, ${requests} requests a phase, ${concurrency} at once`,
  );
  const redis = await startRedisServer();
  const emulator = await startCloudflareEmulator();
  const master = await startMasterProcess({
    redisUrl: redis.url,
    cloudflare: createCloudflareAccount(emulator, ZONES),
    env: {
      LOG_LEVEL: 'warn',
      NODE_OPTIONS: [shippedMasterNodeOptions(), process.env.AGENT_COST_MASTER_NODE_OPTIONS ?? '']
        .join(' ')
        .trim(),
    },
  });
  const connections = new Agent({ keepAlive: true, maxSockets: Math.max(concurrency, agents) });
  try {
    const pid = master.pid();
    if (pid === undefined) throw new Error('the master process has no pid');
    progress(`enrolling ${agents} agents`);
    const enrolled = await inBatches(agents, 20, async (i): Promise<Enrolled> => {
      const { key } = await master.admin.createKey({ name: `cost-${i}`, autoApprove: true });
      const registration: RegisterRequest = {
        name: `h${i}`,
        agentVersion: 'bench',
        hostname: `h${i}.hosts.internal`,
        docker: { serverVersion: '27.3.1', apiVersion: '1.47', os: 'linux', arch: 'x86_64' },
      };
      const answer = await send(
        connections,
        `${master.url}${AGENT_ROUTES.register}`,
        'POST',
        key,
        registration,
      );
      if (answer.status !== 200) throw new Error(`register: ${answer.status} ${answer.text}`);
      const { agentId } = JSON.parse(answer.text) as { agentId: string };
      const containers = Array.from({ length: CONTAINERS_PER_AGENT }, (_, c) =>
        benchContainer(`h${i}`, c, ZONES[i % ZONES.length]!),
      );
      return { key, agentId, containers, sequence: 0 };
    });
    const snapshot = (agent: Enrolled): Report => ({
      agentId: agent.agentId,
      sequence: ++agent.sequence,
      observedAt: new Date().toISOString(),
      kind: 'snapshot',
      fingerprint: snapshotFingerprint(agent.containers),
      containers: agent.containers,
    });
    await inBatches(agents, 20, async (i) => {
      const agent = enrolled[i]!;
      const answer = await send(
        connections,
        `${master.url}${AGENT_ROUTES.reports}`,
        'POST',
        agent.key,
        snapshot(agent),
      );
      if (answer.status !== 200) throw new Error(`first snapshot: ${answer.status} ${answer.text}`);
    });
    // Enrolment's Cloudflare work (tunnels, records, ingress) ends before anything is measured.
    const records = agents * CONTAINERS_PER_AGENT;
    while (emulator.dnsRecords().length < records) await delay(500);
    // Every command enrolment queued (start_tunnel, the gateway's routes) acknowledged, as a real
    // agent does: an agent with a command in flight makes each poll look in Redis.
    await inBatches(agents, 20, async (i) => {
      const agent = enrolled[i]!;
      for (;;) {
        const path = `${AGENT_ROUTES.commandsNext}?waitSeconds=0`;
        const answer = await send(connections, `${master.url}${path}`, 'GET', agent.key);
        const { command } = JSON.parse(answer.text) as { command: Command | null };
        if (command === null) return;
        const ack = { commandId: command.id, version: command.version, status: 'ok' };
        await send(connections, `${master.url}${commandAckPath(command.id)}`, 'POST', agent.key, ack);
      }
    });
    // Quiet: under 15% of a core for 2 s in a row (a profiler preload alone takes several).
    for (let quiet = 0; quiet < 2; ) {
      const before = processUsage(pid);
      await delay(1000);
      quiet = processUsage(pid).cpuSeconds - before.cpuSeconds < 0.15 ? quiet + 1 : 0;
    }
    progress('enrolled and published; measuring');

    async function phase(
      name: string,
      build: (n: number, slot: number) => { method: string; path: string; key?: string; body?: unknown },
      count = requests,
      slots = concurrency,
    ): Promise<PhaseFigures> {
      const latencies: number[] = [];
      let next = 0;
      const before = processUsage(pid!);
      await Promise.all(
        Array.from({ length: slots }, async (_, slot) => {
          while (next < count) {
            const call = build(next++, slot);
            const started = performance.now();
            const answer = await send(
              connections,
              `${master.url}${call.path}`,
              call.method,
              call.key,
              call.body,
            );
            latencies.push(performance.now() - started);
            if (answer.status !== 200)
              throw new Error(`${name}: ${answer.status} ${answer.text.slice(0, 200)}`);
          }
        }),
      );
      const cpu = processUsage(pid!).cpuSeconds - before.cpuSeconds;
      progress(`${name}: done`);
      return {
        name,
        requests: count,
        cpuMicrosPerRequest: (cpu * 1e6) / count,
        latency: summarize(latencies),
      };
    }

    const agentOf = (n: number) => enrolled[n % agents]!;
    const only = process.env.AGENT_COST_ONLY;
    const wanted = (phaseName: string) => only === undefined || only === phaseName;
    const figures = [await phase('GET /healthz (baseline)', () => ({ method: 'GET', path: '/healthz' }))];
    if (wanted('heartbeat'))
      figures.push(
        await phase('heartbeat', (n) => {
          const agent = agentOf(n);
          const body: HeartbeatRequest = {
            agentId: agent.agentId,
            uptimeSeconds: n,
            cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
            lastAppliedCommandVersion: null,
            dockerReachable: true,
          };
          return { method: 'POST', path: AGENT_ROUTES.heartbeat, key: agent.key, body };
        }),
      );
    if (wanted('report'))
      figures.push(
        await phase('report: unchanged snapshot', (n) => {
          const agent = agentOf(n);
          return { method: 'POST', path: AGENT_ROUTES.reports, key: agent.key, body: snapshot(agent) };
        }),
      );
    // Each poll holds its wait: one slot per agent, so no agent holds two at once, and the
    // count is what the agents renew in 10 waits.
    if (wanted('poll'))
      figures.push(
        await phase(
          'command poll renewal (waitSeconds=1, no command)',
          (_n, slot) => ({
            method: 'GET',
            path: `${AGENT_ROUTES.commandsNext}?waitSeconds=1`,
            key: enrolled[slot]!.key,
          }),
          agents * 10,
          agents,
        ),
      );
    const baseline = figures[0]!;
    console.log('\n| request | CPU per request | ratio to baseline | latency p50 / p99 |');
    console.log('| --- | --- | --- | --- |');
    for (const f of figures) {
      console.log(
        `| ${f.name} | ${f.cpuMicrosPerRequest.toFixed(0)} µs | ${(f.cpuMicrosPerRequest / baseline.cpuMicrosPerRequest).toFixed(1)}× | ${formatMs(f.latency.p50)} / ${formatMs(f.latency.p99)} |`,
      );
    }
  } finally {
    connections.destroy();
    await master.close();
    await emulator.close();
    await redis.stop();
  }
}

runBench(main);
