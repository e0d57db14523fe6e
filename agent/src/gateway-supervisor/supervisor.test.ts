import { randomBytes } from 'node:crypto';
import { heartbeatRequestSchema } from '@tunnelfleet/common';
import {
  buildGatewayTestImage,
  containerIpAddress,
  removeGatewayVolume,
  startTestWebContainer,
  uniqueName,
  waitFor,
} from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectTestDocker, fetchFromNetwork, removeLeftovers } from '../../test/test-docker.js';
import { cloudflaredMetricsNetwork } from '../cloudflared/container-spec.js';
import { lastOutputLines } from '../docker/container-output.js';
import {
  GATEWAY_API_PORT,
  GATEWAY_PROXY_PORT,
  gatewayNames,
  managedGatewayFilter,
} from './container-spec.js';
import { gatewayHeartbeat } from './gateway-heartbeat.js';
import { createGatewaySupervisor, type GatewayRoutes, type GatewaySupervisor } from './supervisor.js';

const logger = pino({ level: 'silent' });
let docker: Docker;
let image: string;
/** One shared network pair for the file: each network takes one of the engine's few address pools. */
const network = uniqueName('tf-gw-net');
const controlNetwork = cloudflaredMetricsNetwork(network);
const agentIds: string[] = [];
const leftovers: string[] = [];
const supervisors: GatewaySupervisor[] = [];

beforeAll(async () => {
  docker = await connectTestDocker();
  image = await buildGatewayTestImage();
}, 600_000);

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((supervisor) => supervisor.stop()));
});

afterAll(async () => {
  const managed = await Promise.all(agentIds.map((id) => list(id)));
  await removeLeftovers(docker, {
    containers: [...managed.flat().map((c) => c.Id), ...leftovers],
    networks: [network, controlNetwork],
  });
  await Promise.all(agentIds.map((id) => removeGatewayVolume(gatewayNames(id).volume)));
});

function list(agentId: string) {
  return docker.listContainers({ all: true, filters: { label: managedGatewayFilter(agentId) } });
}

function supervise(agentId: string, apiToken = randomBytes(32).toString('hex')) {
  const supervisor = createGatewaySupervisor({
    docker,
    logger,
    agentId,
    image,
    network,
    controlNetwork,
    apiToken,
    checkIntervalMs: 300,
    restartBackoff: { initialDelayMs: 100, maxDelayMs: 500 },
  });
  supervisors.push(supervisor);
  return supervisor;
}

/** What the gateway answers for `host` at its address on the shared network (as cloudflared asks it). */
async function through(containerId: string, host: string): Promise<string> {
  const address = await containerIpAddress(docker, containerId, network);
  const response = await request(`http://${address}:${GATEWAY_PROXY_PORT}/`, { headers: { host } });
  return `${response.statusCode} ${(await response.body.text()).trim()}`;
}

/** A started supervisor of a new agent, and a web container on the shared network. */
async function startWithWeb() {
  const agentId = uniqueName('agent');
  agentIds.push(agentId);
  const supervisor = supervise(agentId);
  await supervisor.start();
  const web = await startTestWebContainer(docker, { network });
  leftovers.push(web.id);
  return { agentId, supervisor, web };
}

describe('gateway supervisor', () => {
  it('runs the gateway from the agent image as non-root, pushes the routes, and keeps its API off the shared network', async () => {
    const { agentId, supervisor, web } = await startWithWeb();
    await supervisor.setRoutes([
      { id: 'r1', hostname: 'app.example.com', backend: { url: `http://${web.name}:80` } },
    ]);
    const status = await waitFor(() => (supervisor.status().ready ? supervisor.status() : undefined), {
      description: 'the gateway ready with its routes',
      timeoutMs: 30_000,
    });
    expect(status).toMatchObject({
      state: 'running',
      tableVersion: 1,
      serviceUrl: `http://${gatewayNames(agentId).proxyAlias}:8080`,
    });
    const info = await docker.getContainer(status.containerId!).inspect();
    expect(info.Config.User).toBe('65532:65532');
    expect(info.Config.Cmd).toEqual(['node', 'dist/gateway/main.js']);
    expect(await through(status.containerId!, 'app.example.com')).toBe(`200 ${web.id.slice(0, 12)}`);
    expect(await through(status.containerId!, 'other.example.com')).toMatch(/^404 /);
    // A published container on the shared network cannot reach the API (it listens on the control network only).
    const address = await containerIpAddress(docker, status.containerId!, network);
    expect(await fetchFromNetwork(docker, network, `http://${address}:${GATEWAY_API_PORT}/healthz`)).toBe(
      'unreachable',
    );
  });

  it('serves the routes it can when the gateway refuses one, and the refusal reaches the heartbeat', async () => {
    const { supervisor, web } = await startWithWeb();
    const good = { id: 'route-1', hostname: 'app.example.com', backend: { url: `http://${web.name}:80` } };
    // A field this gateway does not know, as from a newer master than the gateway image.
    const newer = {
      id: 'route-2',
      hostname: 'newer.example.com',
      backend: { url: `http://${web.name}:80` },
      filters: { rateLimit: { perMinute: 10 } },
    } as unknown as GatewayRoutes[number];
    await supervisor.setRoutes([good, newer]);
    const status = await waitFor(() => (supervisor.status().ready ? supervisor.status() : undefined), {
      description: 'the gateway ready with its routes',
      timeoutMs: 30_000,
    });
    expect(status.refused).toEqual([
      { id: 'route-2', code: 'unsupported_field', message: 'filters: Unrecognized key: "rateLimit"' },
    ]);
    expect(await through(status.containerId!, 'app.example.com')).toBe(`200 ${web.id.slice(0, 12)}`);
    expect(await through(status.containerId!, 'newer.example.com')).toMatch(/^503 .*route_refused/);
    // The heartbeat's gateway section, as the agent sends it and the master's schema reads it.
    const section = heartbeatRequestSchema.shape.gateway.parse(gatewayHeartbeat(status, image));
    expect(section).toMatchObject({ ready: true, refused: status.refused });

    // Accepted by a later push: no refusal left to report.
    await supervisor.setRoutes([good, { ...good, id: 'route-2', hostname: 'newer.example.com' }]);
    const fixed = supervisor.status();
    expect(fixed.refused).toEqual([]);
    expect(gatewayHeartbeat(fixed, image)).not.toHaveProperty('refused');
    expect(await through(status.containerId!, 'newer.example.com')).toBe(`200 ${web.id.slice(0, 12)}`);
  });

  it('restarts a crashed gateway, which serves its stored table at once; recreates a removed one and pushes again', async () => {
    const agentId = uniqueName('agent');
    agentIds.push(agentId);
    const supervisor = supervise(agentId);
    const web = await startTestWebContainer(docker, { network });
    leftovers.push(web.id);
    await supervisor.setRoutes([
      { id: 'r1', hostname: 'app.example.com', backend: { url: `http://${web.name}:80` } },
    ]);
    await supervisor.start();
    const first = await waitFor(
      () => (supervisor.status().ready ? supervisor.status().containerId : undefined),
      {
        description: 'the gateway ready',
        timeoutMs: 30_000,
      },
    );
    await docker.getContainer(first).kill();
    await waitFor(() => supervisor.status().restarts === 1 && supervisor.status().ready, {
      description: 'the gateway restarted',
      timeoutMs: 30_000,
    });
    expect(supervisor.status()).toMatchObject({ containerId: first, tableVersion: 1 });
    expect(await through(first, 'app.example.com')).toBe(`200 ${web.id.slice(0, 12)}`);

    await docker.getContainer(first).remove({ force: true });
    const second = await waitFor(
      () => {
        const { ready, containerId } = supervisor.status();
        return ready && containerId !== first ? containerId : undefined;
      },
      { description: 'a new gateway container', timeoutMs: 30_000 },
    );
    // The volume kept version 1; the push for the new container is above it.
    expect(supervisor.status().tableVersion).toBe(2);
    expect(await through(second, 'app.example.com')).toBe(`200 ${web.id.slice(0, 12)}`);
  });

  it('keeps serving while the agent restarts, is adopted with the same token, and is replaced when its spec changes', async () => {
    const agentId = uniqueName('agent');
    agentIds.push(agentId);
    const token = randomBytes(32).toString('hex');
    const first = supervise(agentId, token);
    await first.start();
    const id = await waitFor(() => (first.status().ready ? first.status().containerId : undefined), {
      description: 'the gateway ready',
      timeoutMs: 30_000,
    });
    const web = await startTestWebContainer(docker, { network });
    leftovers.push(web.id);
    await first.setRoutes([
      { id: 'r1', hostname: 'app.example.com', backend: { url: `http://${web.name}:80` } },
    ]);
    // Requests flow the whole time the agent is away and back: none may fail.
    let flowing = true;
    const answers: string[] = [];
    const traffic = (async () => {
      while (flowing)
        answers.push(await through(id, 'app.example.com').catch((error: Error) => error.message));
    })();
    await waitFor(() => answers.length > 5, { description: 'traffic through the gateway' });
    await first.stop();
    const again = supervise(agentId, token);
    const adopting = again.start();
    // What a restarted agent's first heartbeat waits for: then the adopted gateway is ready, with
    // the version of its stored table, at its alias (the routes are not given yet).
    await again.looked();
    expect(again.status()).toMatchObject({
      ready: true,
      containerId: id,
      tableVersion: 1,
      serviceUrl: `http://${gatewayNames(agentId).proxyAlias}:8080`,
    });
    expect((await adopting).containerId).toBe(id);
    await again.setRoutes([
      { id: 'r1', hostname: 'app.example.com', backend: { url: `http://${web.name}:80` } },
    ]);
    const seen = answers.length;
    await waitFor(() => answers.length > seen + 5, { description: 'traffic after the agent came back' });
    flowing = false;
    await traffic;
    expect(new Set(answers)).toEqual(new Set([`200 ${web.id.slice(0, 12)}`]));
    await again.stop();
    const rotated = supervise(agentId);
    const replaced = await rotated.start();
    expect(replaced.containerId).not.toBe(id);
    expect((await list(agentId)).map((c) => c.Id)).toEqual([replaced.containerId]);
  });

  it('is replaced under load with no failed request: the new gateway serves before the old one drains', async () => {
    const agentId = uniqueName('agent');
    agentIds.push(agentId);
    const first = supervise(agentId);
    await first.start();
    // A backend holding each request 200 ms: requests are in flight whenever the old gateway stops.
    const backend = await nodeContainer('tf-gw-slow', [
      "require('http').createServer((q, s) => setTimeout(() => s.end('slow-ok'), 200)).listen(8000)",
    ]);
    const routes = [{ id: 'r1', hostname: 'app.example.com', backend: { url: `http://${backend}:8000` } }];
    await first.setRoutes(routes);
    const oldId = await waitFor(() => (first.status().ready ? first.status().containerId : undefined), {
      description: 'the first gateway ready',
      timeoutMs: 30_000,
    });
    // The client asks the gateway by the alias cloudflared dials, through Docker's DNS, as
    // cloudflared does: a new connection per request, 4 at a time, its tally on every 20th answer.
    // Like Go's dialer (at least 2 s an address), it tries each address DNS gave in turn. With
    // Node's default of 250 ms an attempt, one run on this loaded machine had 3 of thousands of
    // requests end in ETIMEDOUT (every attempt timed out).
    const client = await nodeContainer('tf-gw-client', [
      `const http = require('http'); let ok = 0, failed = 0; const errors = [];
       const one = () => new Promise((done) => {
         const req = http.get({ host: '${gatewayNames(agentId).proxyAlias}', port: 8080, agent: false,
           autoSelectFamilyAttemptTimeout: 2000, headers: { host: 'app.example.com' } }, (res) => {
           let body = ''; res.on('data', (c) => (body += c));
           res.on('end', () => { if (res.statusCode === 200 && body === 'slow-ok') ok++; else { failed++; errors.push(res.statusCode + ' ' + body); } done(); });
           res.on('error', (e) => { failed++; errors.push(e.message); done(); });
         });
         req.on('error', (e) => { failed++; errors.push(e.code + ' ' + e.message); done(); });
       });
       const loop = async () => { for (;;) { await one(); if ((ok + failed) % 20 === 0) console.log(JSON.stringify({ ok, failed, errors: errors.slice(0, 5) })); } };
       for (let i = 0; i < 4; i++) loop();`,
    ]);
    const tally = async () => {
      const lines = await lastOutputLines(docker, client, 1);
      return lines.length > 0
        ? (JSON.parse(lines[0]!) as { ok: number; failed: number; errors: string[] })
        : { ok: 0, failed: 0, errors: [] };
    };
    await waitFor(async () => (await tally()).ok > 40, { description: 'traffic through the gateway' });

    // The agent comes back with another token (as after an upgrade with a new image): a new spec.
    const since = Math.floor(Date.now() / 1000);
    await first.stop();
    const second = supervise(agentId);
    void second.setRoutes(routes);
    // What the agent reports while it replaces: once ready (the old one serving), never not ready,
    // and always with the version of the table served and the address: the master keeps the routes
    // published only with both, and a new supervisor (a restarted agent) knows neither until the
    // old gateway told it (before its successor exists).
    const samples: Array<{ ready: boolean; tableVersion?: number; serviceUrl?: string }> = [];
    const sampler = setInterval(() => {
      const { ready, tableVersion, serviceUrl } = second.status();
      samples.push({ ready, tableVersion, serviceUrl });
    }, 20);
    const starting = second.start().finally(() => clearInterval(sampler));
    // Once it looked (the old one set aside, or already succeeded): ready, with a version, at the alias.
    await second.looked();
    expect(second.status()).toMatchObject({
      ready: true,
      tableVersion: expect.any(Number),
      serviceUrl: `http://${gatewayNames(agentId).proxyAlias}:8080`,
    });
    const replaced = await starting;
    expect(replaced.containerId).not.toBe(oldId);
    const fromReady = samples.slice(samples.findIndex((sample) => sample.ready));
    expect(fromReady.length).toBeGreaterThan(0);
    expect(
      fromReady.filter(
        (sample) => !sample.ready || sample.tableVersion === undefined || sample.serviceUrl === undefined,
      ),
    ).toEqual([]);
    expect(replaced.ready).toBe(true);
    expect((await list(agentId)).map((c) => c.Id)).toEqual([replaced.containerId]);
    const after = (await tally()).ok;
    await waitFor(async () => (await tally()).ok > after + 40, {
      description: 'traffic through the new gateway',
    });
    const final = await tally();
    expect(final).toMatchObject({ failed: 0, errors: [] });

    // Overlapped: the new gateway started before the old one stopped.
    const events = await gatewayEvents(agentId, since);
    expect(events).toEqual([`start ${replaced.containerId}`, `die ${oldId}`]);
  }, 180_000);
});

/** A container of the agent's image running `node -e <script>` on the shared network; its name. */
async function nodeContainer(prefix: string, script: string[]): Promise<string> {
  const name = uniqueName(prefix);
  const container = await docker.createContainer({
    name,
    Image: image,
    Entrypoint: ['node', '-e'],
    Cmd: script,
    HostConfig: { NetworkMode: network, Init: true },
  });
  leftovers.push(container.id);
  await container.start();
  return name;
}

/** `start` and `die` of this agent's gateways since `since` (seconds), in order. */
async function gatewayEvents(agentId: string, since: number): Promise<string[]> {
  const stream = await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000),
    filters: { type: ['container'], event: ['start', 'die'], label: managedGatewayFilter(agentId) },
  });
  const raw = await new Promise<string>((resolve, reject) => {
    let text = '';
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
  return raw
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { Action: string; id: string })
    .map((event) => `${event.Action} ${event.id}`);
}
