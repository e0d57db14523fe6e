import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CloudflareEmulator } from '../cloudflare-emulator/index.js';
import { type ChromiumSession, launchChromium } from '../harness/chromium.js';
import { connectDockerEngine } from '../harness/docker-engine.js';
import { type RedisServerHandle, startRedisServer } from '../harness/redis-server.js';
import { startTestWebContainer } from '../harness/test-containers.js';
import { ensureTestImages } from '../harness/test-images.js';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import { type AgentProcess, startAgentProcess } from '../system/agent-process.js';
import { createCloudflareAccount } from '../system/cloudflare-account.js';
import { CLOUDFLARED_AGENT_ID_LABEL, startEmulatorForContainers } from '../system/fleet.js';
import { type MasterProcess, startMasterProcess } from '../system/master-process.js';

const ZONE = 'example.com';
const HOSTNAME = `live.${ZONE}`;
const SLOW_MS = 90_000;

/** `KEY=value` lines of a `.env` as the dashboard shows them. */
function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, match[2]!]),
  );
}

/**
 * The enrolment an operator does: the dashboard creates the key and shows the host's `.env`; the
 * real agent (`node agent/dist/main.js`) runs on the Docker engine with exactly that `.env`, its
 * cloudflared (the stand-in image) connects, and a labelled container started on the host shows
 * up on the routes page without a reload.
 */
describe('dashboard enrolment with a real agent on Docker', () => {
  let docker: Docker;
  let redis: RedisServerHandle;
  let emulator: CloudflareEmulator;
  let master: MasterProcess;
  let browser: ChromiumSession;
  let page: Page;
  let agent: AgentProcess | undefined;
  let web: Awaited<ReturnType<typeof startTestWebContainer>> | undefined;
  let runDir: string;
  const network = uniqueName('tf-dash');

  beforeAll(async () => {
    docker = await connectDockerEngine();
    await ensureTestImages(docker);
    [redis, emulator] = await Promise.all([startRedisServer(), startEmulatorForContainers(docker, {})]);
    master = await startMasterProcess({
      redisUrl: redis.url,
      cloudflare: createCloudflareAccount(emulator, [ZONE]),
      env: { SYNC_DEBOUNCE_MS: '50', LOG_LEVEL: 'warn' },
    });
    await docker.createNetwork({ Name: network, CheckDuplicate: true });
    runDir = await mkdtemp(join(tmpdir(), 'tunnelfleet-dashboard-agent-'));
    browser = await launchChromium();
    page = await browser.context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await web?.remove().catch(() => undefined);
    if (agent) {
      await agent.stop();
      const agentId = await agent.agentId();
      if (agentId) {
        for (const c of await docker.listContainers({
          all: true,
          filters: { label: [`${CLOUDFLARED_AGENT_ID_LABEL}=${agentId}`] },
        })) {
          await docker
            .getContainer(c.Id)
            .remove({ force: true })
            .catch(() => undefined);
        }
      }
    }
    for (const name of [network, `${network}-metrics`]) {
      await docker
        .getNetwork(name)
        .remove()
        .catch(() => undefined);
    }
    await master?.close();
    await emulator?.close();
    await redis?.stop();
    if (runDir) await rm(runDir, { recursive: true, force: true });
  }, 60_000);

  it(
    'runs a real agent with the .env the dashboard shows, and lists it online with cloudflared connected',
    async () => {
      await page.goto(master.url);
      await page.getByLabel('Token').fill(master.adminToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Agents', exact: true })
        .click();
      await page.getByRole('button', { name: 'Enrol a host' }).click();
      await page.getByLabel('Host name').fill('docker-host');
      await page.getByLabel('Any hostname of a managed zone (no wildcards)').check();
      await page.getByRole('button', { name: 'Create key' }).click();
      const env = parseEnv(await page.getByLabel('.env').inputValue());
      expect(Object.keys(env).sort()).toEqual(['TUNNELFLEET_API_KEY', 'TUNNELFLEET_MASTER_URL']);

      agent = await startAgentProcess({
        masterUrl: env.TUNNELFLEET_MASTER_URL!,
        apiKey: env.TUNNELFLEET_API_KEY!,
        name: 'docker-host',
        dockerHost: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock',
        dataDir: join(runDir, 'agent-data'),
        cloudflaredNetwork: network,
        logFile: join(runDir, 'agent.log'),
      });
      await page.getByRole('button', { name: 'Done' }).click();
      const row = page.locator('tr[data-agent="docker-host"]');
      await row.getByText('online').waitFor({ timeout: SLOW_MS });
      await row.getByText(/, connected$/).waitFor({ timeout: SLOW_MS });
    },
    SLOW_MS * 2,
  );

  it(
    'shows the route of a labelled container started on the host, live, and publishes it',
    async () => {
      await page
        .getByRole('navigation', { name: 'Main' })
        .getByRole('link', { name: 'Routes', exact: true })
        .click();
      await page.getByText('No route matches').waitFor();
      const name = uniqueName('tf-dash-web');
      web = await startTestWebContainer(docker, {
        name,
        network,
        labels: {
          'tunnelfleet.enable': 'true',
          'tunnelfleet.hostname': HOSTNAME,
          'tunnelfleet.service': `http://${name}:80`,
        },
      });
      await page.getByRole('link', { name: HOSTNAME }).waitFor({ timeout: SLOW_MS });
      await page
        .getByRole('row', { name: new RegExp(HOSTNAME) })
        .getByText('active')
        .waitFor({ timeout: SLOW_MS });
      await waitFor(() => emulator.dnsRecords(ZONE).some((record) => record.name === HOSTNAME), {
        description: 'the CNAME at Cloudflare',
        timeoutMs: SLOW_MS,
      });
    },
    SLOW_MS * 2,
  );
});
