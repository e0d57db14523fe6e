/**
 * Benchmark: the dashboard's routes page on a large fleet, in real Chromium against the real master
 * process. N simulated agents (the real HTTP protocol, no Docker; `simulated-agent.ts`) with 20
 * labelled containers each, enrolled pending (no Cloudflare budget spent; see RESULTS.md), keep
 * heartbeating during the measurement. Figures, each over `repeats` runs:
 * - first paint: `goto /routes` until the first route row is visible (signed in already);
 * - filter: the search submitted until the count of the filtered routes shows;
 * - grouped paint: `goto /routes?group=agent` until the first group's header and route show;
 * - the API page behind them: `GET /routes?limit=100`, with `q=`, and grouped by agent and policy;
 * and the dashboard's asset sizes. Baseline: the same with `baselineAgents` in the same run.
 *
 *   pnpm build && node test/dist/bench/dashboard-routes.js [agents=1000] [baselineAgents=10] [repeats=7]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { startCloudflareEmulator } from '../cloudflare-emulator/index.js';
import { launchChromium } from '../harness/chromium.js';
import { startRedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';
import { createCloudflareAccount, startMasterProcess } from '../system/index.js';
import { inBatches } from './in-batches.js';
import { formatMs, formatRatio, type LatencySummary, summarize } from './latency-stats.js';
import { type SimulatedAgent, startSimulatedAgent } from './simulated-agent.js';

const CONTAINERS_PER_AGENT = 20;
const CONCURRENCY = 20;
const ZONE = 'bench.example.com';
const ASSETS = fileURLToPath(new URL('../../../dashboard/dist/assets/', import.meta.url));

const progress = (message: string) => process.stderr.write(`[dashboard-routes] ${message}\n`);

interface Figures {
  routes: number;
  firstPaint: LatencySummary;
  filter: LatencySummary;
  groupedPaint: LatencySummary;
  apiPage: LatencySummary;
  apiSearch: LatencySummary;
  apiGroupAgent: LatencySummary;
  apiGroupPolicy: LatencySummary;
}

async function measure(agents: number, repeats: number): Promise<Figures> {
  progress(`${agents} agents: starting the master`);
  const redis = await startRedisServer();
  const emulator = await startCloudflareEmulator();
  const master = await startMasterProcess({
    redisUrl: redis.url,
    cloudflare: createCloudflareAccount(emulator, [ZONE]),
    env: { REPORT_INTERVAL_SECONDS: '30', LOG_LEVEL: 'warn' },
  });
  const fleet: SimulatedAgent[] = [];
  const browser = await launchChromium();
  try {
    const keys = await inBatches(
      agents,
      CONCURRENCY,
      async (i) => (await master.admin.createKey({ name: `bench-${i}`, autoApprove: false })).key,
    );
    await inBatches(agents, CONCURRENCY, async (i) => {
      const agent = startSimulatedAgent({
        url: master.url,
        key: keys[i]!,
        name: `h${i}`,
        zone: ZONE,
        containers: CONTAINERS_PER_AGENT,
        meanEventIntervalMs: 0,
        latencies: { add: () => undefined },
        onError: (endpoint, message) => progress(`agent h${i} ${endpoint}: ${message}`),
      });
      fleet.push(agent);
      await agent.ready;
    });
    const expected = agents * CONTAINERS_PER_AGENT;
    const total = await waitFor(
      async () => {
        const answer = (await (
          await master.admin.request('GET', '/routes?limit=1')
        ).body) as { total: number };
        return answer.total === expected ? answer.total : undefined;
      },
      { description: `${expected} routes stored`, timeoutMs: 300_000, intervalMs: 500 },
    );
    progress(`${agents} agents: ${total} routes; measuring`);

    const api = async (query: string) => {
      const started = performance.now();
      const answer = await fetch(`${master.url}/api/v1/admin/routes?${query}`, {
        headers: { authorization: `Bearer ${master.adminToken}` },
      });
      await answer.text();
      return performance.now() - started;
    };
    const page = await browser.context.newPage();
    await page.goto(master.url);
    await page.getByLabel('Token').fill(master.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();

    const firstPaint: number[] = [];
    const filter: number[] = [];
    const groupedPaint: number[] = [];
    const apiPage: number[] = [];
    const apiSearch: number[] = [];
    const apiGroupAgent: number[] = [];
    const apiGroupPolicy: number[] = [];
    // Run 0 warms up (the browser's cache of the assets, SQLite's pages, the JIT) and is not counted.
    for (let run = 0; run <= repeats; run++) {
      const host = `h${(run * 7919) % agents}`;
      const record = run === 0 ? () => undefined : (samples: number[], ms: number) => samples.push(ms);
      record(apiPage, await api('limit=100&offset=0'));
      record(apiSearch, await api(`limit=100&offset=0&q=-${host}.`));
      record(apiGroupAgent, await api('limit=100&offset=0&group=agent'));
      record(apiGroupPolicy, await api('limit=100&offset=0&group=policy'));
      await page.goto('about:blank');
      let started = performance.now();
      await page.goto(`${master.url}/routes`);
      await page.locator('tbody.vscroll tr td a').first().waitFor();
      record(firstPaint, performance.now() - started);

      await page.getByLabel('Search hostname or container').fill(`-${host}.`);
      started = performance.now();
      await page.getByRole('button', { name: 'Search' }).click();
      await page
        .getByTestId('routes-total')
        .getByText(`${CONTAINERS_PER_AGENT} routes`, { exact: true })
        .waitFor();
      record(filter, performance.now() - started);

      await page.goto('about:blank');
      started = performance.now();
      await page.goto(`${master.url}/routes?group=agent`);
      await page.getByTestId('route-group').first().waitFor();
      await page.locator('tbody.vscroll tr td a').first().waitFor();
      record(groupedPaint, performance.now() - started);
    }
    return {
      routes: total,
      firstPaint: summarize(firstPaint),
      filter: summarize(filter),
      groupedPaint: summarize(groupedPaint),
      apiPage: summarize(apiPage),
      apiSearch: summarize(apiSearch),
      apiGroupAgent: summarize(apiGroupAgent),
      apiGroupPolicy: summarize(apiGroupPolicy),
    };
  } finally {
    await browser.close();
    await Promise.all(fleet.map((agent) => agent.stop()));
    await master.close();
    await emulator.close();
    await redis.stop();
  }
}

function assetSizes(): string[] {
  return readdirSync(ASSETS)
    .sort()
    .map((file) => {
      const bytes = statSync(`${ASSETS}${file}`).size;
      const gzipped = gzipSync(readFileSync(`${ASSETS}${file}`)).length;
      return `  ${file.padEnd(28)} ${(bytes / 1024).toFixed(1).padStart(7)} KiB  (gzip ${(gzipped / 1024).toFixed(1)} KiB)`;
    });
}

const [agents = 1000, baselineAgents = 10, repeats = 7] = process.argv.slice(2).map(Number);
const baseline = await measure(baselineAgents, repeats);
const measured = await measure(agents, repeats);
const line = (name: string, pick: (f: Figures) => LatencySummary) => {
  const [b, m] = [pick(baseline), pick(measured)];
  return `  ${name.padEnd(22)} p50 ${formatMs(m.p50).padStart(9)}  p90 ${formatMs(m.p90).padStart(9)}  max ${formatMs(m.max).padStart(9)}   baseline p50 ${formatMs(b.p50).padStart(9)}  (${formatRatio(m.p50, b.p50)} of it)`;
};
console.log(
  `dashboard routes page: ${measured.routes} routes (${agents} agents), baseline ${baseline.routes} routes; ` +
    `${repeats} runs each after one warm-up; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
);
console.log(line('first paint', (f) => f.firstPaint));
console.log(line('filter', (f) => f.filter));
console.log(line('grouped paint (agent)', (f) => f.groupedPaint));
console.log(line('API page (limit=100)', (f) => f.apiPage));
console.log(line('API search (q=)', (f) => f.apiSearch));
console.log(line('API group=agent', (f) => f.apiGroupAgent));
console.log(line('API group=policy', (f) => f.apiGroupPolicy));
const slowest = [measured.firstPaint.max, measured.filter.max, measured.groupedPaint.max];
console.log(
  `target (issue 14): first paint, filter and grouped paint under 1 s at ${agents} agents: ${slowest.every((ms) => ms < 1000) ? 'met' : 'MISSED'} (max ${slowest.map(formatMs).join(', ')})`,
);
console.log('assets:');
for (const row of assetSizes()) console.log(row);
