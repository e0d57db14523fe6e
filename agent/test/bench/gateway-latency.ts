/**
 * The gateway's added latency against a direct connection, in one run on loopback:
 *   pnpm build && node agent/test/dist/test/bench/gateway-latency.js [rate/s] [seconds]
 * A backend (its own process) and the gateway (`node agent/dist/gateway/main.js`, its own process)
 * on loopback; this process sends `rate` requests a second, open loop, taking turns between the
 * backend directly, the same backend through the gateway by a plain route, and through the gateway
 * by an L7 route, each over an undici keep-alive pool, and compares the percentiles. All paths see
 * the same machine load, so the differences are what the gateway adds, and what its matching and
 * filters add. The L7 route sets a request and a response header, and 20 routes of its hostname
 * that rank before it (header, query and regex matches) are tried and missed first. Asserts
 * nothing: read the figures (bench/RESULTS.md).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { formatMs, summarize } from '@tunnelfleet/test';
import { Pool } from 'undici';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const rate = Number(process.argv[2] ?? 1000);
const seconds = Number(process.argv[3] ?? 20);
const WARMUP_SECONDS = 3;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

function spawnNode(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function waitUntilAnswers(url: string, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    try {
      const response = await fetch(url, { headers });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await delay(50);
  }
  throw new Error(`${url} never answered`);
}

async function main(): Promise<void> {
  const [backendPort, proxyPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const dataDir = await mkdtemp(join(tmpdir(), 'gateway-bench-'));
  const token = randomBytes(32).toString('hex');
  const backend = spawnNode(
    ['-e', `require('node:http').createServer((q,s)=>s.end('ok')).listen(${backendPort},'127.0.0.1')`],
    {},
  );
  const gateway = spawnNode([join(root, 'agent/dist/gateway/main.js')], {
    GATEWAY_LISTEN_PORT: String(proxyPort),
    GATEWAY_LISTEN_HOST: '127.0.0.1',
    GATEWAY_API_PORT: String(apiPort),
    GATEWAY_API_HOST: '127.0.0.1',
    GATEWAY_API_TOKEN: token,
    GATEWAY_DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
  });
  try {
    await waitUntilAnswers(`http://127.0.0.1:${backendPort}/`);
    await waitUntilAnswers(`http://127.0.0.1:${apiPort}/healthz`);
    const put = await fetch(`http://127.0.0.1:${apiPort}/config`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        version: 1,
        routes: [
          { id: 'plain', hostname: 'plain.example.com', backend: { url: `http://127.0.0.1:${backendPort}` } },
          {
            id: 'bench',
            hostname: 'bench.example.com',
            backend: { url: `http://127.0.0.1:${backendPort}` },
            filters: {
              requestHeaders: { set: [{ name: 'x-bench', value: '1' }] },
              responseHeaders: { set: [{ name: 'x-served-by', value: 'gateway' }] },
            },
          },
          ...Array.from({ length: 20 }, (_, i) => ({
            id: `decoy-${i}`,
            hostname: 'bench.example.com',
            ...(i % 3 === 0
              ? { match: { headers: [{ name: 'x-tenant', type: 'regex', value: `^tenant-${i}-[a-z]+$` }] } }
              : i % 3 === 1
                ? { match: { query: [{ name: 'v', type: 'exact', value: String(i) }] } }
                : { path: { type: 'regex', value: `^/(items|things)/${i}/[0-9]+$` } }),
            backend: { url: `http://127.0.0.1:${backendPort}` },
          })),
        ],
      }),
    });
    if (!put.ok) throw new Error(`PUT /config: ${put.status} ${await put.text()}`);

    const direct = new Pool(`http://127.0.0.1:${backendPort}`);
    const through = new Pool(`http://127.0.0.1:${proxyPort}`);
    const samples = { direct: [] as number[], plain: [] as number[], l7: [] as number[] };
    let failures = 0;
    const once = async (pool: Pool, host: string, into: number[] | undefined) => {
      const started = performance.now();
      try {
        const response = await pool.request({
          path: '/',
          method: 'GET',
          headers: { host },
        });
        await response.body.text();
        if (response.statusCode !== 200) failures += 1;
        else into?.push(performance.now() - started);
      } catch {
        failures += 1;
      }
    };
    const intervalMs = 1000 / rate;
    const total = Math.round(rate * (WARMUP_SECONDS + seconds));
    const warmup = Math.round(rate * WARMUP_SECONDS);
    const inFlight: Promise<void>[] = [];
    const start = performance.now();
    for (let i = 0; i < total; i += 1) {
      // Open loop: each request leaves at its time whatever the previous ones did.
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await delay(wait);
      const measured = i >= warmup;
      const turn = (['direct', 'plain', 'l7'] as const)[i % 3]!;
      const host = turn === 'l7' ? 'bench.example.com' : 'plain.example.com';
      inFlight.push(once(turn === 'direct' ? direct : through, host, measured ? samples[turn] : undefined));
    }
    await Promise.all(inFlight);
    const elapsed = (performance.now() - start) / 1000;
    await Promise.all([direct.close(), through.close()]);
    const d = summarize(samples.direct);
    const p = summarize(samples.plain);
    const g = summarize(samples.l7);
    console.log(
      `rate asked ${rate}/s, achieved ${(total / elapsed).toFixed(0)}/s over ${elapsed.toFixed(1)} s; failures ${failures}; load ${(
        await import('node:os')
      )
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log('| path | n | p50 | p90 | p99 | max |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, s] of [
      ['direct', d],
      ['gateway, plain route', p],
      ['gateway, L7 route', g],
    ] as const)
      console.log(
        `| ${name} | ${s.n} | ${formatMs(s.p50)} | ${formatMs(s.p90)} | ${formatMs(s.p99)} | ${formatMs(s.max)} |`,
      );
    for (const [name, s] of [
      ['plain route', p],
      ['L7 route', g],
    ] as const)
      console.log(
        `added by the gateway, ${name}: p50 ${formatMs(s.p50 - d.p50)} (target ≤ 1 ms), p99 ${formatMs(s.p99 - d.p99)} (target ≤ 5 ms)`,
      );
  } finally {
    backend.kill();
    gateway.kill();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
