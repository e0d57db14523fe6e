import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_ROUTES, COMMAND_POLL_DEFAULT_WAIT_SECONDS } from '@tunnelfleet/common';
import {
  buildGatewayTestImage,
  CLOUDFLARED_IMAGE,
  freePort,
  type MasterProcess,
  removeGatewayVolume,
  TEST_WEB_IMAGE,
  uniqueName,
  waitFor,
} from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type RecordingProxy,
  type RecordingProxyOptions,
  startRecordingProxy,
} from '../test/recording-proxy.js';
import { connectTestDocker } from '../test/test-docker.js';
import { startTestMaster } from '../test/test-master.js';
import { type Agent, type AgentDeps, createAgent, REVOKED_KEY_MESSAGE } from './agent.js';
import { cloudflaredMetricsNetwork, managedLabelFilter } from './cloudflared/container-spec.js';
import { gatewayNames, managedGatewayFilter } from './gateway-supervisor/index.js';
import { HEALTH_PATH } from './health/index.js';

const logger = pino({ level: 'silent' });
let docker: Docker;
let master: MasterProcess;
const agents: Agent[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

/** The master's COMMAND_POLL_WAIT_SECONDS; agents with a fixed wait (`commandWaitSeconds`) keep theirs. */
const MASTER_POLL_WAIT_SECONDS = 3;

beforeAll(async () => {
  docker = await connectTestDocker();
  master = await startTestMaster({ env: { COMMAND_POLL_WAIT_SECONDS: String(MASTER_POLL_WAIT_SECONDS) } });
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((agent) => agent.stop()));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

afterAll(async () => {
  await master?.close();
});

interface Host {
  key: string;
  dataDir: string;
  network: string;
  proxy: RecordingProxy;
  newAgent(
    overrides?: Partial<Pick<AgentDeps, 'now' | 'fetch' | 'logger' | 'gatewayImage' | 'tuning'>>,
  ): Promise<Agent>;
}

/** One simulated host: its key, data dir and cloudflared network; agents on it talk through a recording proxy. */
async function host(proxyOptions: RecordingProxyOptions = {}): Promise<Host> {
  const { key } = await master.admin.createKey({ name: uniqueName('host') });
  const dataDir = await mkdtemp(join(tmpdir(), 'tf-agent-data-'));
  const network = uniqueName('tf-agent-net');
  const proxy = await startRecordingProxy(master.url, proxyOptions);
  const created: Host = {
    key,
    dataDir,
    network,
    proxy,
    async newAgent(overrides = {}) {
      const agent = createAgent({
        masterUrl: proxy.url,
        apiKey: key,
        agentName: 'test-host',
        dataDir,
        docker,
        logger,
        cloudflaredImage: CLOUDFLARED_IMAGE,
        cloudflaredNetwork: network,
        reportIntervalSeconds: 1,
        healthPort: await freePort(),
        healthHost: '127.0.0.1',
        tuning: {
          retry: { initialDelayMs: 100, maxDelayMs: 500, rejectedDelayMs: 500 },
          snapshotEveryHeartbeats: 1_000_000,
          commandWaitSeconds: 2,
          cloudflaredCheckIntervalMs: 500,
        },
        ...overrides,
      });
      agents.push(agent);
      await agent.start();
      return agent;
    },
  };
  cleanups.push(async () => {
    await proxy.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  cleanups.push(async () => {
    // Runs after every later-pushed cleanup: the cloudflared and app containers are gone by then.
    await docker.getNetwork(network).remove();
    // Created with the first cloudflared; not every test starts one.
    await docker
      .getNetwork(cloudflaredMetricsNetwork(network))
      .remove()
      .catch(() => undefined);
  });
  return created;
}

function removeCloudflaredOf(agentId: string) {
  // Pushed after the host's network cleanup, so it runs before it (cleanups run in reverse).
  cleanups.push(async () => {
    for (const c of await managedCloudflared(agentId))
      await docker.getContainer(c.Id).remove({ force: true });
  });
}

function managedCloudflared(agentId: string) {
  return docker.listContainers({ all: true, filters: { label: managedLabelFilter(agentId) } });
}

async function runningCloudflared(agentId: string) {
  return (await managedCloudflared(agentId)).filter((c) => c.State === 'running');
}

async function labelledContainer(labels: Record<string, string>): Promise<Docker.Container> {
  const container = await docker.createContainer({
    name: uniqueName('tf-agent-app'),
    Image: TEST_WEB_IMAGE,
    Labels: labels,
    ExposedPorts: { '80/tcp': {} },
    HostConfig: { Init: true },
  });
  cleanups.push(() => container.remove({ force: true }));
  return container;
}

async function registered(agent: Agent): Promise<string> {
  return waitFor(() => agent.agentId(), { description: 'the agent to register' });
}

async function masterContainerState(agentId: string, containerId: string): Promise<string | undefined> {
  const view = await master.admin.agent(agentId);
  return view.containers.find((c) => c.containerId === containerId)?.state;
}

/** The agent's routes; the problems are the label parser's (the route view types them `unknown`). */
async function routesOf(agentId: string) {
  return (await master.admin.routes({ agentId })).map((route) => ({
    ...route,
    problems: route.problems as { label: string }[],
  }));
}

async function healthz(
  agent: Agent,
): Promise<{ status: number; body: { revoked: boolean; healthy: boolean } }> {
  const response = await fetch(`http://127.0.0.1:${agent.healthPort()}${HEALTH_PATH}`);
  return { status: response.status, body: (await response.json()) as { revoked: boolean; healthy: boolean } };
}

describe('agent against the real master and Docker engine', () => {
  it('reports labelled containers starting, stopping and going away, and a label typo as a container, not a crash', async () => {
    const h = await host();
    const agent = await h.newAgent();
    const agentId = await registered(agent);
    removeCloudflaredOf(agentId);
    // start_tunnel from the master's registration brings cloudflared up.
    await waitFor(async () => (await runningCloudflared(agentId)).length === 1, {
      description: 'cloudflared to run',
      timeoutMs: 20_000,
    });

    const app = await labelledContainer({
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'app.example.com',
      'tunnelfleet.service': 'http',
    });
    await app.start();
    await waitFor(async () => (await masterContainerState(agentId, app.id)) === 'running', {
      description: 'the master to see the container running',
    });
    await app.stop({ t: 1 });
    await waitFor(async () => (await masterContainerState(agentId, app.id)) === 'exited', {
      description: 'the master to see the container stopped',
    });
    await app.remove();
    await waitFor(async () => (await masterContainerState(agentId, app.id)) === 'removed', {
      description: 'the master to see the container removed',
    });

    const typo = await labelledContainer({
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostnme': 'typo.example.com',
    });
    await typo.start();
    await waitFor(async () => (await masterContainerState(agentId, typo.id)) === 'running', {
      description: 'the master to receive the container with the misspelt label',
    });
    // The master turns it into an invalid route whose message names the label it lacks.
    const route = await waitFor(
      async () => (await routesOf(agentId)).find((r) => r.containerId === typo.id && r.status === 'invalid'),
      { description: 'the misspelt container to have an invalid route' },
    );
    expect(route.statusMessage).toContain('tunnelfleet.hostname');
    expect(route.problems).toContainEqual(
      expect.objectContaining({ severity: 'error', label: 'tunnelfleet.hostname' }),
    );
    // …and the warning that points at the misspelt key itself.
    expect(route.problems).toContainEqual(
      expect.objectContaining({ severity: 'warning', label: 'tunnelfleet.hostnme' }),
    );
    expect((await healthz(agent)).status).toBe(200);
  });

  it('keeps cloudflared through a master outage and an agent restart, then catches up with one snapshot', async () => {
    const h = await host();
    const first = await h.newAgent();
    const agentId = await registered(first);
    removeCloudflaredOf(agentId);
    await waitFor(async () => (await runningCloudflared(agentId)).length === 1, {
      description: 'cloudflared to run',
      timeoutMs: 20_000,
    });

    await master.stop();
    try {
      await waitFor(() => !first.health().master.reachable, {
        description: 'the agent to notice the outage',
      });
      expect((await runningCloudflared(agentId)).length).toBe(1);
      const health = await healthz(first);
      expect(health.status).toBe(200);

      // The host reboots during the outage: agent stopped, its cloudflared gone with it.
      agents.splice(agents.indexOf(first), 1);
      await first.stop();
      for (const c of await managedCloudflared(agentId))
        await docker.getContainer(c.Id).remove({ force: true });
      expect(await managedCloudflared(agentId)).toEqual([]);

      const second = await h.newAgent();
      await waitFor(async () => (await runningCloudflared(agentId)).length === 1, {
        description: 'the restarted agent to bring cloudflared back from its cache',
        timeoutMs: 20_000,
      });
      expect(second.health().master.reachable).toBe(false);

      // Changes while the master is away: none of them may arrive as an event storm later.
      const app = await labelledContainer({
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'outage.example.com',
      });
      await app.start();
      await app.stop({ t: 1 });
      await app.start();
      await waitFor(() => second.health().docker.reachable, { description: 'the watcher to be connected' });
      const before = h.proxy.reports.length;

      await master.start();
      await waitFor(async () => (await masterContainerState(agentId, app.id)) === 'running', {
        description: 'the master to learn of the container started during the outage',
      });
      // Let a few heartbeats pass so that any further report would have been sent.
      const heartbeatsAfter = Date.now();
      await waitFor(
        () => (second.health().master.lastContactAt ?? '') > new Date(heartbeatsAfter + 2000).toISOString(),
        {
          description: 'heartbeats to continue',
        },
      );
      const after = h.proxy.reports.slice(before).filter((r) => r.status === 200);
      expect(after.map((r) => r.kind)).toEqual(['snapshot']);
      expect(after[0]?.containerIds).toContain(app.id);
    } finally {
      await master.start().catch(() => undefined);
    }
  });

  it('logs a rejected key once a minute however often the master answers 401', async () => {
    const h = await host();
    let clock = Date.now();
    let rejections = 0;
    const lines: string[] = [];
    const agent = await h.newAgent({
      now: () => clock,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (response.status === 401) rejections++;
        return response;
      },
      logger: pino({ level: 'error' }, { write: (line: string) => void lines.push(line) }),
    });
    const agentId = await registered(agent);
    removeCloudflaredOf(agentId);
    const revokedMessages = () => lines.filter((line) => line.includes(REVOKED_KEY_MESSAGE)).length;
    const moreRejections = async (count: number) => {
      const target = rejections + count;
      await waitFor(() => rejections >= target, { description: `${count} more 401 answers` });
    };

    expect((await master.admin.request('POST', `/agents/${agentId}/revoke`)).status).toBe(200);
    await waitFor(() => revokedMessages() === 1, { description: 'the revoked-key message' });
    await moreRejections(3);
    expect(revokedMessages()).toBe(1);

    clock += 59_999;
    await moreRejections(3);
    expect(revokedMessages()).toBe(1);

    clock += 1;
    await waitFor(() => revokedMessages() === 2, { description: 'the message again a minute later' });
    await moreRejections(3);
    expect(revokedMessages()).toBe(2);
    expect(agent.health().revoked).toBe(true);
  });

  it("polls for commands with the wait the master's answers advise", async () => {
    const h = await host();
    const waits: number[] = [];
    const agent = await h.newAgent({
      // The shipped agent's tuning: no fixed wait.
      tuning: { retry: { initialDelayMs: 100, maxDelayMs: 500, rejectedDelayMs: 500 } },
      fetch: (input, init) => {
        const url = new URL(String(input));
        if (url.pathname === AGENT_ROUTES.commandsNext)
          waits.push(Number(url.searchParams.get('waitSeconds')));
        return fetch(input, init);
      },
    });
    removeCloudflaredOf(await registered(agent));
    // The first poll, before any answer, waits the default; its answer (start_tunnel) advises.
    await waitFor(() => waits.length >= 3, { description: 'three command polls' });
    expect(waits[0]).toBe(COMMAND_POLL_DEFAULT_WAIT_SECONDS);
    expect(waits.slice(1)).toEqual(waits.slice(1).map(() => MASTER_POLL_WAIT_SECONDS));
  });

  it('notices a proxy that ends its command polls before their wait, and polls for less from then on', async () => {
    // nginx's proxy_read_timeout, say, under the wait: the proxy answers 504 after 2.5 s.
    const h = await host({ readTimeoutMs: 2_500 });
    const polls: Array<{ wait: number; status: number }> = [];
    const lines: string[] = [];
    const agent = await h.newAgent({
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
      tuning: {
        commandWaitSeconds: 6,
        retry: { initialDelayMs: 100, maxDelayMs: 500, rejectedDelayMs: 500 },
      },
      fetch: async (input, init) => {
        const url = new URL(String(input));
        const answer = await fetch(input, init);
        if (url.pathname === AGENT_ROUTES.commandsNext)
          polls.push({ wait: Number(url.searchParams.get('waitSeconds')), status: answer.status });
        return answer;
      },
    });
    removeCloudflaredOf(await registered(agent));
    const shortened = () => polls.findIndex((poll) => poll.wait < 6);
    await waitFor(() => shortened() >= 0 && polls.length >= shortened() + 3, {
      description: 'three polls after the wait was shortened',
    });

    // Two polls in a row cut at the same time are the proxy's timeout; one would have been chance.
    expect(polls.slice(shortened() - 2, shortened())).toEqual([
      { wait: 6, status: 504 },
      { wait: 6, status: 504 },
    ]);
    const warnings = lines
      .map((line) => JSON.parse(line) as { msg: string; [field: string]: unknown })
      .filter((line) => line.msg.startsWith('command polls end before their wait'));
    expect(warnings).toEqual([
      expect.objectContaining({ cutAfterSeconds: 3, waitSeconds: 6, nowWaitSeconds: 1 }),
    ]);
    expect(warnings[0]?.msg).toContain("raise the proxy's read timeout");
    // Under the proxy's timeout, the master answers every poll again.
    expect(polls.slice(shortened())).toEqual(polls.slice(shortened()).map(() => ({ wait: 1, status: 200 })));
  });

  it('runs the host gateway when GATEWAY_IMAGE is set, leaves it serving when it stops, and adopts it again', async () => {
    const gatewayImage = await buildGatewayTestImage();
    const h = await host();
    const gateways = (agentId: string) =>
      docker.listContainers({ all: true, filters: { label: managedGatewayFilter(agentId) } });
    const agent = await h.newAgent({ gatewayImage });
    const agentId = await registered(agent);
    removeCloudflaredOf(agentId);
    cleanups.push(async () => {
      for (const c of await gateways(agentId)) await docker.getContainer(c.Id).remove({ force: true });
      await removeGatewayVolume(gatewayNames(agentId).volume);
    });
    const running = await waitFor(async () => (await gateways(agentId)).find((c) => c.State === 'running'), {
      description: 'the gateway to run',
      timeoutMs: 30_000,
    });
    expect((await stat(join(h.dataDir, 'gateway_api_token'))).mode & 0o777).toBe(0o600);
    await agent.stop();
    agents.splice(agents.indexOf(agent), 1);
    expect((await gateways(agentId)).map((c) => [c.Id, c.State])).toEqual([[running.Id, 'running']]);
    const again = await h.newAgent({ gatewayImage });
    await registered(again);
    await waitFor(async () => (await gateways(agentId)).length === 1, { description: 'one gateway' });
    expect((await gateways(agentId)).map((c) => [c.Id, c.State])).toEqual([[running.Id, 'running']]);
  }, 600_000);
});
