import { randomBytes } from 'node:crypto';
import type { RoutingTableInput } from '@tunnelfleet/common';
import {
  buildGatewayTestImage,
  removeGatewayVolume,
  startTestWebContainer,
  TEST_BUSYBOX_IMAGE,
  uniqueName,
  waitFor,
} from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestDocker, removeLeftovers } from '../../test/test-docker.js';
import { cloudflaredMetricsNetwork } from '../cloudflared/container-spec.js';
import { GATEWAY_PROXY_PORT, gatewayNames, managedGatewayFilter } from './container-spec.js';
import { createGatewaySupervisor, type GatewaySupervisor } from './supervisor.js';

/**
 * Wake on request on a real engine: the gateway container from the agent image, the agent's
 * supervisor and wake loop, and real sleeping containers. The master's part (labels, `sleeping`
 * routes) is not built yet; these routes are pushed as the agent would push them.
 */
const logger = pino({ level: 'silent' });
let docker: Docker;
const network = uniqueName('tf-wake-net');
const agentId = uniqueName('agent');
const leftovers: string[] = [];
let supervisor: GatewaySupervisor;
let gatewayAddress: string;

type Routes = RoutingTableInput['routes'];

beforeAll(async () => {
  docker = await connectTestDocker();
  const image = await buildGatewayTestImage();
  supervisor = createGatewaySupervisor({
    docker,
    logger,
    agentId,
    image,
    network,
    controlNetwork: cloudflaredMetricsNetwork(network),
    apiToken: randomBytes(32).toString('hex'),
    checkIntervalMs: 300,
  });
  const started = await supervisor.start();
  await waitFor(() => supervisor.status().ready, { description: 'the gateway ready', timeoutMs: 30_000 });
  const info = await docker.getContainer(started.containerId!).inspect();
  gatewayAddress = info.NetworkSettings.Networks[network]!.IPAddress;
}, 600_000);

afterAll(async () => {
  await supervisor?.stop();
  const gateways = await docker.listContainers({
    all: true,
    filters: { label: managedGatewayFilter(agentId) },
  });
  await removeLeftovers(docker, {
    containers: [...gateways.map((c) => c.Id), ...leftovers],
    networks: [network, cloudflaredMetricsNetwork(network)],
  });
  await removeGatewayVolume(gatewayNames(agentId).volume);
});

async function setRoutes(routes: Routes) {
  await supervisor.setRoutes(routes);
  await waitFor(() => supervisor.status().ready, { description: 'the routes pushed', timeoutMs: 10_000 });
}

async function send(host: string, path = '/', accept = 'application/json', visitor?: string) {
  const response = await request(`http://${gatewayAddress}:${GATEWAY_PROXY_PORT}${path}`, {
    headers: { host, accept, ...(visitor ? { 'cf-connecting-ip': visitor } : {}) },
    headersTimeout: 60_000,
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: await response.body.text(),
  };
}

/** `start` events Docker recorded for `id` since `since` (seconds). */
async function startEvents(id: string, since: number): Promise<number> {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const stream = (await docker.getEvents({
    since,
    until,
    filters: { container: [id], event: ['start'] },
  })) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text.split('\n').filter((line) => line.trim()).length;
}

async function sleepingWeb(network: string) {
  const web = await startTestWebContainer(docker, { network, start: false });
  leftovers.push(web.id);
  return web;
}

/** A busybox container on the test network, created stopped, running `script`. */
async function sleepingShell(prefix: string, script: string, healthcheck?: string) {
  const container = await docker.createContainer({
    name: uniqueName(prefix),
    Image: TEST_BUSYBOX_IMAGE,
    Cmd: ['sh', '-c', script],
    HostConfig: { NetworkMode: network, Init: true },
    ...(healthcheck
      ? {
          Healthcheck: {
            Test: ['CMD-SHELL', healthcheck],
            Interval: 300_000_000,
            // Failures in the first 30 s do not count: `starting` until the first success.
            StartPeriod: 30_000_000_000,
            Retries: 1,
          },
        }
      : {}),
  });
  leftovers.push(container.id);
  return { container, name: (await container.inspect()).Name.slice(1) };
}

/** A waking route `<id>.example.com` to `app` that needs `dependsOn` started (and ready) first. */
function setAppRoute(id: string, app: { name: string }, dependsOn: string[], startTimeoutMs?: number) {
  return setRoutes([
    {
      id,
      hostname: `${id}.example.com`,
      backend: { url: `http://${app.name}:80` },
      wake: { container: app.name, dependsOn, ...(startTimeoutMs ? { startTimeoutMs } : {}) },
    },
  ]);
}

describe('wake on request', () => {
  it('wakes a sleeping container with exactly one docker start under 100 concurrent API requests', async () => {
    const web = await sleepingWeb(network);
    await setRoutes([
      {
        id: 'sleepy',
        hostname: 'sleepy.example.com',
        backend: { url: `http://${web.name}:80` },
        wake: { container: web.name },
      },
    ]);
    const since = Math.floor(Date.now() / 1000) - 1;
    const answers = await Promise.all(Array.from({ length: 100 }, () => send('sleepy.example.com')));
    expect(answers.map((a) => a.status)).toEqual(Array(100).fill(200));
    expect(new Set(answers.map((a) => a.text.trim()))).toEqual(new Set([web.id.slice(0, 12)]));
    expect(await startEvents(web.id, since)).toBe(1);
  });

  it('starts the dependencies first', async () => {
    const [db, app] = [await sleepingWeb(network), await sleepingWeb(network)];
    await setAppRoute('app', app, [db.name]);
    expect((await send('app.example.com')).status).toBe(200);
    const [dbInfo, appInfo] = await Promise.all([db.container.inspect(), app.container.inspect()]);
    expect(dbInfo.State.Running).toBe(true);
    expect(Date.parse(dbInfo.State.StartedAt)).toBeLessThanOrEqual(Date.parse(appInfo.State.StartedAt));
  });

  it('waits for each dependency to be healthy before starting the next', async () => {
    // Healthy only 2 s after it starts: the app must not start before.
    const db = await sleepingShell(
      'tf-db',
      'sleep 2; touch /tmp/ready; exec sleep 3600',
      'test -f /tmp/ready',
    );
    const app = await sleepingWeb(network);
    await setAppRoute('app', app, [db.name]);
    expect((await send('app.example.com')).status).toBe(200);
    const [dbInfo, appInfo] = await Promise.all([db.container.inspect(), app.container.inspect()]);
    expect(dbInfo.State.Health?.Status).toBe('healthy');
    const firstHealthy = dbInfo.State.Health!.Log.find((entry) => entry.ExitCode === 0)!;
    expect(Date.parse(appInfo.State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(firstHealthy.End));
  });

  it('fails the wake at once, saying why, when a dependency exits', async () => {
    const db = await sleepingShell('tf-db', 'echo "db: cannot open the data directory"; exit 3');
    const app = await sleepingWeb(network);
    await setAppRoute('broken', app, [db.name], 600_000);
    const api = await send('broken.example.com');
    expect(api.status).toBe(502);
    expect(JSON.parse(api.text).error).toEqual({
      code: 'wake_failed',
      message: `dependency ${db.name} exited (code 3)`,
    });
    expect((await app.container.inspect()).State.Running).toBe(false);
    const state = JSON.parse((await send('broken.example.com', '/_tunnelfleet/state?route=broken')).text);
    expect(state).toEqual({ state: 'failed', message: `dependency ${db.name} exited (code 3)` });
    const page = await send('broken.example.com', '/', 'text/html');
    expect(page.status).toBe(504);
    expect(page.text).toContain(`could not be started: dependency ${db.name} exited (code 3)`);
    expect(page.text).toContain(`[${db.name}] db: cannot open the data directory`);
  });

  it('fails the wake, saying why, when a dependency does not exist', async () => {
    const app = await sleepingWeb(network);
    const missing = uniqueName('tf-no-such-db');
    await setAppRoute('orphan', app, [missing]);
    const api = await send('orphan.example.com');
    expect(api.status).toBe(502);
    expect(JSON.parse(api.text).error.message).toBe(`dependency ${missing} does not exist on this host`);
    expect((await app.container.inspect()).State.Running).toBe(false);
  });

  it('refuses a dependency cycle across containers with a clear message, starting nothing', async () => {
    const [a, b] = [await sleepingWeb(network), await sleepingWeb(network)];
    await setRoutes([
      {
        id: 'cycle-a',
        hostname: 'a.example.com',
        backend: { url: `http://${a.name}:80` },
        wake: { container: a.name, dependsOn: [b.name] },
      },
      {
        id: 'cycle-b',
        hostname: 'b.example.com',
        backend: { url: `http://${b.name}:80` },
        wake: { container: b.name, dependsOn: [a.name] },
      },
    ]);
    const api = await send('a.example.com');
    expect(api.status).toBe(502);
    expect(JSON.parse(api.text).error.message).toBe(
      `dependency cycle ${a.name} → ${b.name} → ${a.name} (check their depends_on labels)`,
    );
    const [aInfo, bInfo] = await Promise.all([a.container.inspect(), b.container.inspect()]);
    expect([aInfo.State.Running, bInfo.State.Running]).toEqual([false, false]);
  });

  it('masks secrets in the log lines the loading page shows', async () => {
    const key = 'tfk_0123456789abcdef_s3cr3tPartOfTheKey';
    const mute = await sleepingShell(
      'tf-leaky',
      `echo "connecting with ${key}"; echo "DB_PASSWORD=hunter2hunter2 ready"; exec sleep 3600`,
    );
    await setRoutes([
      {
        id: 'leaky',
        hostname: 'leaky.example.com',
        backend: { url: `http://${mute.name}:80` },
        wake: { container: mute.name },
      },
    ]);
    expect((await send('leaky.example.com', '/', 'text/html')).status).toBe(503);
    const lines = await waitFor(
      async () => {
        const answer = await send('leaky.example.com', '/_tunnelfleet/logs?route=leaky');
        const shown = answer.status === 200 ? (JSON.parse(answer.text).lines as string[]) : [];
        return shown.length >= 2 ? shown : undefined;
      },
      { description: 'the log lines on the page', timeoutMs: 30_000, intervalMs: 1_100 },
    );
    expect(lines).toEqual([
      'connecting with tfk_0123456789abcdef_[REDACTED]',
      'DB_PASSWORD=[REDACTED] ready',
    ]);
    expect(lines.join('\n')).not.toContain('hunter2');
  });

  it('answers a browser at once with a loading page whose script polls the state until running', async () => {
    const web = await sleepingWeb(network);
    await setRoutes([
      {
        id: 'page',
        hostname: 'page.example.com',
        backend: { url: `http://${web.name}:80` },
        wake: { container: web.name, redirectPath: '/welcome' },
      },
      { id: 'other', hostname: 'other.example.com', backend: { url: `http://${web.name}:80` } },
    ]);
    const page = await send('page.example.com', '/', 'text/html,application/xhtml+xml');
    expect(page.status).toBe(503);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).toContain('data-route="page"');
    expect(page.text).toContain('data-redirect="/welcome"');
    expect(page.text).toContain('<script src="/_tunnelfleet/wake.js" defer></script>');
    expect(page.text).not.toMatch(/<script>(?!<\/script>)/);
    const script = await send('page.example.com', '/_tunnelfleet/wake.js');
    expect(script.headers['content-type']).toContain('javascript');
    expect(script.text).toContain("'/_tunnelfleet/state?route='");
    expect(script.text).toContain('setTimeout(pollState, 2000)');
    expect(script.text).toContain('setTimeout(pollLogs, 3000)');
    await waitFor(
      async () =>
        JSON.parse((await send('page.example.com', '/_tunnelfleet/state?route=page')).text).state ===
        'running',
      { description: 'the state running', timeoutMs: 30_000, intervalMs: 1_100 },
    );
    // Another host of the same gateway cannot read this route's state or logs.
    for (const endpoint of ['state', 'logs'])
      expect(
        (
          await send(
            'other.example.com',
            `/_tunnelfleet/${endpoint}?route=page`,
            'application/json',
            '192.0.2.1',
          )
        ).status,
      ).toBe(404);
    expect((await send('page.example.com', '/', 'text/html')).status).toBe(200);
  });

  it('limits the polling endpoints per visitor address', async () => {
    const web = await sleepingWeb(network);
    await setRoutes([
      {
        id: 'page',
        hostname: 'page.example.com',
        backend: { url: `http://${web.name}:80` },
        wake: { container: web.name },
      },
    ]);
    const first = await request(
      `http://${gatewayAddress}:${GATEWAY_PROXY_PORT}/_tunnelfleet/logs?route=page`,
      {
        headers: { host: 'page.example.com', 'cf-connecting-ip': '198.51.100.7' },
      },
    );
    const second = await request(
      `http://${gatewayAddress}:${GATEWAY_PROXY_PORT}/_tunnelfleet/logs?route=page`,
      {
        headers: { host: 'page.example.com', 'cf-connecting-ip': '198.51.100.7' },
      },
    );
    const other = await request(
      `http://${gatewayAddress}:${GATEWAY_PROXY_PORT}/_tunnelfleet/logs?route=page`,
      {
        headers: { host: 'page.example.com', 'cf-connecting-ip': '198.51.100.8' },
      },
    );
    expect([first.statusCode, second.statusCode, other.statusCode]).toEqual([200, 429, 200]);
    await Promise.all([first, second, other].map((r) => r.body.dump()));
  });

  it('gives up at the start timeout: API clients get 504, browsers the error page with the log lines', async () => {
    const mute = await docker.createContainer({
      name: uniqueName('tf-mute'),
      Image: TEST_BUSYBOX_IMAGE,
      Cmd: ['sh', '-c', 'echo "mute: listening on nothing"; exec sleep 3600'],
      HostConfig: { NetworkMode: network, Init: true },
    });
    leftovers.push(mute.id);
    const name = (await mute.inspect()).Name.slice(1);
    await setRoutes([
      {
        id: 'mute',
        hostname: 'mute.example.com',
        backend: { url: `http://${name}:80` },
        wake: { container: name, startTimeoutMs: 2_000 },
      },
    ]);
    const api = await send('mute.example.com');
    expect(api.status).toBe(504);
    expect(JSON.parse(api.text).error.code).toBe('start_timeout');
    const failed = await waitFor(
      async () => {
        const page = await send('mute.example.com', '/', 'text/html');
        return page.status === 504 && page.text.includes('mute: listening on nothing') ? page : undefined;
      },
      { description: 'the error page with the log line', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(failed.text).toContain('did not start in time');
  });

  it('stops a container after its idle timeout; the next request wakes it again', async () => {
    const web = await sleepingWeb(network);
    await setRoutes([
      {
        id: 'idle',
        hostname: 'idle.example.com',
        backend: { url: `http://${web.name}:80` },
        wake: { container: web.name, idleTimeoutMs: 1_000 },
      },
    ]);
    expect((await send('idle.example.com')).status).toBe(200);
    await waitFor(async () => !(await web.container.inspect()).State.Running, {
      description: 'the idle container stopped',
      timeoutMs: 30_000,
    });
    expect((await send('idle.example.com')).status).toBe(200);
    expect((await web.container.inspect()).State.Running).toBe(true);
  });
});
