/**
 * Benchmark: what the gateways' per-route traffic costs the master at fleet scale. A heartbeat's
 * intake (zod parse + `note`) with 10 and with 100 routes of traffic, against the same heartbeat
 * without traffic (parse only), and a `/metrics` scrape with every route's series, against the same
 * registry without them; same run, a real SQLite file holding every agent's routes.
 *
 *   pnpm build && node master/test/dist/test/bench/gateway-traffic.js [agents=1000] [routesPerAgent=10]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type GatewayTraffic,
  gatewayServiceUrl,
  type HeartbeatRequest,
  heartbeatRequestSchema,
} from '@tunnelfleet/common';
import { pino } from 'pino';
import type { HeartbeatStore } from '#master/agents/heartbeats.js';
import { createGatewayTrafficBook } from '#master/gateway/gateway-traffic.js';
import { createMasterMetrics } from '#master/metrics/metrics.js';
import { openDatabase } from '#master/store/database.js';
import { insertApprovedAgent } from '../approved-agent.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function timed(runs: number, run: (i: number) => void): { p50: number; p99: number } {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    run(i);
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function timedAsync(runs: number, run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

const traffic = (routeIds: number[], n: number): GatewayTraffic => ({
  startedAt: 1,
  routes: routeIds.map((id) => ({
    route: `route-${id}`,
    requests: [0, n, 0, 1, 0],
    latency: { sum: n * 0.002, buckets: [n, n, n + 1, n + 1, n + 1, n + 1] },
    wakes: 1,
    wakeSeconds: 1.2,
    wakeTimeouts: 0,
    idleStops: 1,
  })),
});

async function main(): Promise<void> {
  const agents = Number(process.argv[2] ?? 1000);
  const perAgent = Number(process.argv[3] ?? 10);
  const dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-bench-traffic-'));
  const db = openDatabase(dir);
  try {
    const now = new Date().toISOString();
    const insertRoute = db.prepare(
      `INSERT INTO routes (agent_id, container_id, container_name, route_key, hostname, service, status,
         claimed_at, created_at, updated_at)
       VALUES (?, ?, ?, 'default', ?, 'http://web:80', 'active', ?, ?, ?)`,
    );
    const routesOf = new Map<string, number[]>();
    db.transaction(() => {
      for (let a = 0; a < agents; a++) {
        const id = `agent-${a}`;
        insertApprovedAgent(db, id);
        const ids: number[] = [];
        for (let r = 0; r < Math.max(perAgent, 100); r++) {
          const name = `app-${a}-${r}`;
          ids.push(
            Number(
              insertRoute.run(id, `${a}-${r}`.padStart(64, '0'), name, `${name}.example.com`, now, now, now)
                .lastInsertRowid,
            ),
          );
        }
        routesOf.set(id, ids);
      }
    })();
    const book = createGatewayTrafficBook({ db, logger: pino({ level: 'silent' }) });
    const heartbeat = (agentId: string, gatewayTraffic?: GatewayTraffic): HeartbeatRequest => ({
      agentId,
      uptimeSeconds: 100,
      cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
      lastAppliedCommandVersion: 3,
      dockerReachable: true,
      gateway: {
        state: 'running',
        ready: true,
        serviceUrl: gatewayServiceUrl(agentId),
        tableVersion: 2,
        image: 'a:1',
      },
      ...(gatewayTraffic ? { gatewayTraffic } : {}),
    });
    const agentIds = [...routesOf.keys()];
    const bodies = (routes: number, n: number) =>
      agentIds.map((id) => JSON.stringify(heartbeat(id, traffic(routesOf.get(id)!.slice(0, routes), n))));
    const plain = agentIds.map((id) => JSON.stringify(heartbeat(id)));
    const intake = (texts: string[]) => (i: number) => {
      const body = heartbeatRequestSchema.parse(JSON.parse(texts[i % texts.length]!));
      if (body.gatewayTraffic) book.note(body.agentId, body.gatewayTraffic);
    };
    // Warm-up (JIT, statements prepared), then every agent once more with other numbers.
    timed(agents, intake(bodies(perAgent, 1)));
    const baseline = timed(agents, intake(plain));
    const small = timed(agents, intake(bodies(perAgent, 2)));
    // The largest heartbeats from a tenth of the agents (the scrape below stays at fleet size).
    const full = timed(Math.ceil(agents / 10), intake(bodies(100, 3)));

    const stub = {
      db,
      heartbeats: { countOnline: async () => agents } as unknown as HeartbeatStore,
      commandStats: () => ({ queued: 0, delivered: 0, redelivered: 0 }),
      cloudflareCalls: () => ({}),
      cloudflareBudget: () => ({
        tokens: [],
        drift: { configuredPeriodSeconds: 0, oldestCheckAgeSeconds: 0, tokens: [], targets: [] },
      }),
    };
    const without = createMasterMetrics(stub).exposition;
    const withTraffic = createMasterMetrics({ ...stub, gatewayTraffic: () => book.all() }).exposition;
    await without.metrics();
    await withTraffic.metrics();
    const scrapeBaseline = await timedAsync(10, () => without.metrics());
    const scrape = await timedAsync(10, () => withTraffic.metrics());
    const text = await withTraffic.metrics();
    const series = text.split('\n').filter((line) => line.startsWith('tunnelfleet_gateway_')).length;

    const ms = (value: number) => `${value.toFixed(3)} ms`;
    console.log(
      `gateway traffic at the master (${new Date().toISOString()}, node ${process.version}): ${agents} agents, ` +
        `${book.all().length} routes with traffic`,
    );
    console.log(
      `  heartbeat intake without traffic (baseline) p50 ${ms(baseline.p50)}  p99 ${ms(baseline.p99)}`,
    );
    console.log(
      `  with ${perAgent} routes of traffic            p50 ${ms(small.p50)}  p99 ${ms(small.p99)}  (${(small.p50 / baseline.p50).toFixed(1)}× p50)`,
    );
    console.log(
      `  with 100 routes (the most a heartbeat carries) p50 ${ms(full.p50)}  p99 ${ms(full.p99)}  (${(full.p50 / baseline.p50).toFixed(1)}× p50)`,
    );
    console.log(
      `  /metrics without gateway series (baseline) p50 ${ms(scrapeBaseline.p50)}  p99 ${ms(scrapeBaseline.p99)}`,
    );
    console.log(
      `  /metrics with ${series} gateway series         p50 ${ms(scrape.p50)}  p99 ${ms(scrape.p99)}  (${(text.length / 1024 / 1024).toFixed(1)} MiB)`,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
