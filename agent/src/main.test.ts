import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOUDFLARED_IMAGE, freePort, type MasterProcess, uniqueName, waitFor } from '@tunnelfleet/test';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestDocker } from '../test/test-docker.js';
import { startTestMaster } from '../test/test-master.js';
import { REVOKED_KEY_MESSAGE } from './agent.js';
import { cloudflaredMetricsNetwork, managedLabelFilter } from './cloudflared/container-spec.js';
import { HEALTH_PATH } from './health/index.js';

const AGENT_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const VALID_KEY = `tfk_0123456789abcdef_${'k'.repeat(43)}`;

interface AgentProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function spawnAgent(env: Record<string, string>): AgentProcess {
  if (!existsSync(AGENT_MAIN)) throw new Error(`${AGENT_MAIN} is missing: run pnpm build first`);
  const child = spawn(process.execPath, [AGENT_MAIN], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('node agent/dist/main.js', () => {
  it('exits 78 naming every bad variable, without echoing the key', async () => {
    const agent = spawnAgent({ TUNNELFLEET_API_KEY: VALID_KEY, REPORT_INTERVAL_SECONDS: 'often' });
    expect(await agent.exited).toBe(78);
    expect(agent.output()).toContain('TUNNELFLEET_MASTER_URL');
    expect(agent.output()).toContain('REPORT_INTERVAL_SECONDS');
    expect(agent.output()).not.toContain(VALID_KEY);
  });

  it('exits 78 when LABEL_PREFIX and LABELGATE_LABEL_PREFIX overlap, naming both', async () => {
    const agent = spawnAgent({
      TUNNELFLEET_MASTER_URL: 'http://127.0.0.1:9',
      TUNNELFLEET_API_KEY: VALID_KEY,
      LABEL_PREFIX: 'corp',
      LABELGATE_LABEL_PREFIX: 'corp.edge',
    });
    expect(await agent.exited).toBe(78);
    expect(agent.output()).toContain(
      'LABEL_PREFIX "corp." and LABELGATE_LABEL_PREFIX "corp.edge." overlap: one label would be read by both languages',
    );
    expect(agent.output()).not.toContain(VALID_KEY);
  });

  it('names a malformed key without printing it', async () => {
    const agent = spawnAgent({
      TUNNELFLEET_MASTER_URL: 'http://127.0.0.1:9',
      TUNNELFLEET_API_KEY: 'not-a-key-secret-value',
      CLOUDFLARED_IMAGE: CLOUDFLARED_IMAGE,
    });
    expect(await agent.exited).toBe(78);
    expect(agent.output()).toContain('TUNNELFLEET_API_KEY');
    expect(agent.output()).not.toContain('not-a-key-secret-value');
  });
});

describe('a revoked key', () => {
  let docker: Docker;
  let master: MasterProcess;
  beforeAll(async () => {
    docker = await connectTestDocker();
    master = await startTestMaster();
  });
  afterAll(async () => {
    await master?.close();
  });

  it('stops cloudflared, turns health to 503 and keeps the process alive', async () => {
    const { key } = await master.admin.createKey({ name: uniqueName('revoked-host') });
    const dataDir = await mkdtemp(join(tmpdir(), 'tf-agent-main-'));
    const network = uniqueName('tf-agent-net');
    const healthPort = await freePort();
    const agent = spawnAgent({
      TUNNELFLEET_MASTER_URL: master.url,
      TUNNELFLEET_API_KEY: key,
      TUNNELFLEET_AGENT_NAME: 'revoked-host',
      CLOUDFLARED_IMAGE: CLOUDFLARED_IMAGE,
      CLOUDFLARED_NETWORK: network,
      REPORT_INTERVAL_SECONDS: '1',
      TUNNELFLEET_DATA_DIR: dataDir,
      TUNNELFLEET_HEALTH_PORT: String(healthPort),
      LOG_LEVEL: 'info',
      ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    });
    const health = async () => {
      const response = await fetch(`http://127.0.0.1:${healthPort}${HEALTH_PATH}`);
      return { status: response.status, body: (await response.json()) as { revoked: boolean } };
    };
    let agentId = '';
    try {
      agentId = await waitFor(
        async () => (await readFile(join(dataDir, 'agent_id'), 'utf8').catch(() => '')).trim(),
        { description: `the agent to register (output: ${agent.output()})`, timeoutMs: 20_000 },
      );
      const cloudflared = () =>
        docker.listContainers({ all: true, filters: { label: managedLabelFilter(agentId) } });
      await waitFor(async () => (await cloudflared()).some((c) => c.State === 'running'), {
        description: 'cloudflared to run',
        timeoutMs: 20_000,
      });
      // Healthy once the watcher has listed Docker and the master answered (start-up takes a moment).
      await waitFor(async () => (await health()).status === 200, { description: 'health to turn healthy' });

      expect((await master.admin.request('POST', `/agents/${agentId}/revoke`)).status).toBe(200);

      await waitFor(async () => (await health()).status === 503, { description: 'health to turn unhealthy' });
      expect((await health()).body.revoked).toBe(true);
      await waitFor(async () => (await cloudflared()).length === 0, {
        description: 'cloudflared to be removed',
      });
      await waitFor(() => agent.output().includes(REVOKED_KEY_MESSAGE), {
        description: 'the revoked-key message',
      });
      expect(agent.child.exitCode).toBeNull();
      // Still there a while later: no crash, no restart loop, the endpoint still answers.
      const later = Date.now() + 2_000;
      await waitFor(async () => Date.now() > later && (await health()).status === 503, {
        description: 'the agent to stay up',
      });
      expect(agent.child.exitCode).toBeNull();
      expect(agent.output()).not.toContain(key);

      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    } finally {
      agent.child.kill('SIGKILL');
      if (agentId) {
        const left = await docker.listContainers({
          all: true,
          filters: { label: managedLabelFilter(agentId) },
        });
        for (const c of left) await docker.getContainer(c.Id).remove({ force: true });
      }
      for (const name of [network, cloudflaredMetricsNetwork(network)])
        await docker
          .getNetwork(name)
          .remove()
          .catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
