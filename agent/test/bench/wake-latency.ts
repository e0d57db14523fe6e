/**
 * Wake-to-first-byte minus the container's own start time, on the local engine:
 *   pnpm build && node agent/test/dist/test/bench/wake-latency.js [rounds]
 * The gateway container (the agent image built from the workspace), the agent's supervisor and
 * wake loop (from agent/dist) in this process, and a sleeping web container. Each round, in turn:
 * - its own start: `docker start`, then an HTTP GET every 5 ms until one answers; the time from
 *   the start call to that answer's first byte;
 * - the wake: the container stopped and its route `sleeping` (stopped by the gateway's 1 s idle
 *   timeout), one API request through the gateway; the time to its first byte.
 * The difference of the medians (and of the 90th percentiles) is what waking adds. Asserts
 * nothing: read the figures (bench/RESULTS.md).
 */
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  buildGatewayTestImage,
  connectDockerEngine,
  formatMs,
  removeGatewayVolume,
  startTestWebContainer,
  summarize,
  uniqueName,
} from '@tunnelfleet/test';
import pino from 'pino';
import { request } from 'undici';

// Types from the sources, code from agent/dist (this file is compiled apart from the agent).
type SupervisorModule = typeof import('../../src/gateway-supervisor/supervisor.js');
type SpecModule = typeof import('../../src/gateway-supervisor/container-spec.js');
type CloudflaredSpecModule = typeof import('../../src/cloudflared/container-spec.js');

const root = fileURLToPath(new URL('../../../../../', import.meta.url));
const load = <T>(path: string) => import(pathToFileURL(join(root, 'agent/dist', path)).href) as Promise<T>;
const rounds = Number(process.argv[2] ?? 15);
const IDLE_TIMEOUT_MS = 1_000;

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(50);
  }
}

async function main(): Promise<void> {
  const { createGatewaySupervisor } = await load<SupervisorModule>('gateway-supervisor/supervisor.js');
  const { GATEWAY_PROXY_PORT, gatewayNames } = await load<SpecModule>('gateway-supervisor/container-spec.js');
  const { cloudflaredMetricsNetwork } = await load<CloudflaredSpecModule>('cloudflared/container-spec.js');
  const docker = await connectDockerEngine();
  const network = uniqueName('tf-wake-bench');
  const agentId = uniqueName('wake-bench');
  const image = await buildGatewayTestImage();
  const supervisor = createGatewaySupervisor({
    docker,
    logger: pino({ level: 'warn' }),
    agentId,
    image,
    network,
    controlNetwork: cloudflaredMetricsNetwork(network),
    apiToken: randomBytes(32).toString('hex'),
    checkIntervalMs: 300,
  });
  const created: string[] = [];
  try {
    const started = await supervisor.start();
    await waitUntil(async () => supervisor.status().ready, 'the gateway ready');
    const gatewayInfo = await docker.getContainer(started.containerId!).inspect();
    const gateway = `http://${gatewayInfo.NetworkSettings.Networks[network]!.IPAddress}:${GATEWAY_PROXY_PORT}`;
    const web = await startTestWebContainer(docker, { network, start: false });
    created.push(web.id);
    await supervisor.setRoutes([
      {
        id: 'bench',
        hostname: 'bench.example.com',
        backend: { url: `http://${web.name}:80` },
        wake: { container: web.name, idleTimeoutMs: IDLE_TIMEOUT_MS },
      },
    ]);
    await waitUntil(async () => supervisor.status().ready, 'the route pushed');
    const running = async () => (await web.container.inspect()).State.Running;

    const own: number[] = [];
    const woken: number[] = [];
    for (let round = 0; round < rounds; round += 1) {
      // Its own start, straight to the container's address.
      const t0 = performance.now();
      await web.container.start();
      const address = (await web.container.inspect()).NetworkSettings.Networks[network]!.IPAddress;
      for (;;) {
        const answer = await request(`http://${address}/`, { headersTimeout: 1_000 }).catch(() => undefined);
        if (answer) {
          own.push(performance.now() - t0);
          await answer.body.dump();
          break;
        }
        await delay(5);
      }
      await web.container.stop({ t: 5 });

      // The wake: a request through the gateway to the sleeping container.
      const t1 = performance.now();
      const answer = await request(gateway, {
        headers: { host: 'bench.example.com', accept: 'application/json' },
        headersTimeout: 120_000,
      });
      woken.push(performance.now() - t1);
      await answer.body.dump();
      if (answer.statusCode !== 200) throw new Error(`the wake answered ${answer.statusCode}`);
      // Stopped again by its idle timeout: the route is `sleeping`, as a visitor would find it.
      await waitUntil(async () => !(await running()), 'the idle stop');
    }

    const o = summarize(own);
    const w = summarize(woken);
    console.log(
      `rounds ${rounds}; load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log('| path | n | p50 | p90 | max |');
    console.log('|---|---|---|---|---|');
    console.log(
      `| own start (docker start → first byte) | ${o.n} | ${formatMs(o.p50)} | ${formatMs(o.p90)} | ${formatMs(o.max)} |`,
    );
    console.log(
      `| wake through the gateway (request → first byte) | ${w.n} | ${formatMs(w.p50)} | ${formatMs(w.p90)} | ${formatMs(w.max)} |`,
    );
    console.log(
      `added by waking: p50 ${formatMs(w.p50 - o.p50)}, p90 ${formatMs(w.p90 - o.p90)} (target ≤ 200 ms)`,
    );
  } finally {
    await supervisor.stop({ removeContainer: true });
    await removeGatewayVolume(gatewayNames(agentId).volume).catch(() => undefined);
    for (const id of created)
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    for (const name of [network, cloudflaredMetricsNetwork(network)])
      await docker
        .getNetwork(name)
        .remove()
        .catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
