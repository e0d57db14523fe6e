import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AGENT_ROUTES } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareEmulator, startCloudflareEmulator } from '../cloudflare-emulator/index.js';
import { connectDockerEngine } from '../harness/docker-engine.js';
import { freePort } from '../harness/free-port.js';
import { hostAddressForEngine } from '../harness/host-network.js';
import { ensureTestImages, TEST_WEB_IMAGE } from '../harness/test-images.js';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import { type ComposeProject, composeProject, requireDockerCompose } from './compose-project.js';

/**
 * The operator's path end to end: both images built offline from locally made bases, master +
 * Redis and agent + socket proxy started from the repository's compose files with docker-compose,
 * the master pointed at the Cloudflare emulator, the CLI inside the master image.
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const TAG = 'compose-test';
const ADMIN_TOKEN = `tfa_${randomBytes(32).toString('base64url')}`;
const REDIS_PASSWORD = randomBytes(24).toString('hex');

let docker: Docker;
let emulator: CloudflareEmulator;
let master: ComposeProject;
let agent: ComposeProject;
let masterPort: number;
let network: string;
let zoneName: string;
let agentKey: string;
let secretsDir: string | undefined;
const webContainers: string[] = [];

/** The CLI from the workspace, against the master's published port. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [`${root}master/dist/cli/tunnelfleet.js`, ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          TUNNELFLEET_URL: `http://127.0.0.1:${masterPort}`,
          TUNNELFLEET_ADMIN_TOKEN: ADMIN_TOKEN,
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** `fetch` run by node inside a container; prints the status code. */
async function statusFromInside(project: ComposeProject, service: string, url: string): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}).then(r=>console.log(r.status),e=>console.log('error',e.cause?.code??e.message))`;
  return (await project.exec(service, ['node', '-e', script])).stdout.trim();
}

beforeAll(async () => {
  await requireDockerCompose();
  docker = await connectDockerEngine();
  await ensureTestImages(docker);
  await run('bash', [`${root}deploy/build-images.sh`, '--local', '--tag', TAG], {
    maxBuffer: 64 * 1024 * 1024,
  });

  const hostIp = await hostAddressForEngine(docker);
  const emulatorPort = await freePort('0.0.0.0');
  emulator = await startCloudflareEmulator({
    host: '0.0.0.0',
    port: emulatorPort,
    edgeUrl: `http://${hostIp}:${emulatorPort}`,
  });
  const account = emulator.createAccount('compose-test');
  zoneName = `${uniqueName('zone')}.example.com`;
  emulator.createZone(zoneName, account.id);
  const cloudflareToken = emulator.createToken({ accountIds: [account.id], zoneNames: 'all' });

  masterPort = await freePort('0.0.0.0');
  // As docs/deployment.md has it: the password in a file the containers' users can read.
  secretsDir = mkdtempSync(join(tmpdir(), 'tf-compose-secrets-'));
  const passwordFile = join(secretsDir, 'redis_password');
  writeFileSync(passwordFile, `${REDIS_PASSWORD}\n`);
  chmodSync(passwordFile, 0o644);
  master = composeProject({
    file: `${root}docker-compose.master.yml`,
    name: uniqueName('tfmaster'),
    env: {
      REDIS_PASSWORD_HOST_FILE: passwordFile,
      TUNNELFLEET_BIND: '0.0.0.0',
      TUNNELFLEET_PORT: String(masterPort),
      TUNNELFLEET_MASTER_IMAGE: `tunnelfleet/master:${TAG}`,
      REDIS_IMAGE: 'tunnelfleet-local/redis:7',
      TUNNELFLEET_ADMIN_TOKEN: ADMIN_TOKEN,
      CLOUDFLARE_API_TOKEN: cloudflareToken,
      CLOUDFLARE_ACCOUNT_ID: account.id,
      CLOUDFLARE_API_BASE_URL: `http://${hostIp}:${emulatorPort}/client/v4`,
      SYNC_DEBOUNCE_MS: '100',
      REPORT_INTERVAL_SECONDS: '5',
    },
  });
  await master.compose(['up', '-d']);
  await waitFor(
    async () =>
      (await fetch(`http://127.0.0.1:${masterPort}/healthz`, { signal: AbortSignal.timeout(2000) })).ok,
    {
      description: 'the master container to answer /healthz',
      timeoutMs: 60_000,
      intervalMs: 250,
    },
  );

  // Enrollment as docs/enrollment.md shows it: the CLI inside the master container.
  const created = await master.exec('master', [
    'tunnelfleet',
    'keys',
    'create',
    'compose-host',
    '--allow-any',
    '--json',
  ]);
  if (created.code !== 0) throw new Error(`keys create failed: ${created.stderr}`);
  const { key } = JSON.parse(created.stdout) as { key: string };
  agentKey = key;

  network = uniqueName('tfnet');
  agent = composeProject({
    file: `${root}docker-compose.agent.yml`,
    name: uniqueName('tfagent'),
    env: {
      TUNNELFLEET_MASTER_URL: `http://${hostIp}:${masterPort}`,
      TUNNELFLEET_API_KEY: key,
      TUNNELFLEET_AGENT_NAME: 'compose-host',
      TUNNELFLEET_AGENT_IMAGE: `tunnelfleet/agent:${TAG}`,
      DOCKER_SOCKET_PROXY_IMAGE: 'tunnelfleet-local/docker-socket-proxy:1',
      CLOUDFLARED_NETWORK: network,
      REPORT_INTERVAL_SECONDS: '5',
    },
  });
  await agent.compose(['up', '-d']);
}, 300_000);

afterAll(async () => {
  for (const id of webContainers)
    await docker
      .getContainer(id)
      .remove({ force: true })
      .catch(() => undefined);
  // The agent's cloudflared is not part of the compose project: remove it before the network goes.
  if (docker && network) {
    const leftovers = await docker.listContainers({ all: true, filters: { network: [network] } });
    for (const container of leftovers) {
      if (!container.Labels['com.docker.compose.project'])
        await docker
          .getContainer(container.Id)
          .remove({ force: true })
          .catch(() => undefined);
    }
  }
  await agent?.destroy();
  await master?.destroy();
  await emulator?.close();
  if (secretsDir) rmSync(secretsDir, { recursive: true, force: true });
}, 120_000);

describe('compose deployment', () => {
  it('runs master and agent as non-root; the agent has no Docker socket, only the proxy', async () => {
    for (const [project, service] of [
      [master, 'master'],
      [agent, 'agent'],
    ] as const) {
      const info = await docker.getContainer(await project.containerId(service)).inspect();
      expect(info.Config.User, `${service} user`).toBe('65532:65532');
      expect(info.Config.Healthcheck?.Test?.join(' '), `${service} health check`).toContain('/healthz');
      expect(info.Mounts.map((mount) => mount.Destination).sort()).toEqual(
        // The Redis password reaches the master as a read-only secret file.
        service === 'master' ? ['/app/data', '/run/secrets/redis_password'] : ['/app/data'],
      );
      expect((await project.exec(service, ['id', '-u'])).stdout.trim()).toBe('65532');
    }
    const agentInfo = await docker.getContainer(await agent.containerId('agent')).inspect();
    expect(agentInfo.Config.Env).toContain('DOCKER_HOST=tcp://socket-proxy:2375');
    expect((await agent.exec('agent', ['ls', '/var/run/docker.sock'])).code).not.toBe(0);
    // The proxy lets through what the agent needs and nothing else.
    expect(await statusFromInside(agent, 'agent', 'http://socket-proxy:2375/v1.41/containers/json')).toBe(
      '200',
    );
    expect(await statusFromInside(agent, 'agent', 'http://socket-proxy:2375/v1.41/info')).toBe('403');
    expect(await statusFromInside(agent, 'agent', 'http://socket-proxy:2375/v1.41/volumes')).toBe('403');

    const redisConfig = async (name: string) =>
      (
        await master.exec('redis', [
          'sh',
          '-c',
          `REDISCLI_AUTH="$(cat /run/secrets/redis_password)" redis-cli config get ${name}`,
        ])
      ).stdout
        .trim()
        .split('\n');
    expect(await redisConfig('appendonly')).toEqual(['appendonly', 'yes']);
    expect(await redisConfig('maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    expect(await redisConfig('requirepass')).toEqual(['requirepass', REDIS_PASSWORD]);
  }, 60_000);

  it('keeps the Redis password out of docker inspect and of every process command line', async () => {
    for (const service of ['master', 'redis']) {
      const container = docker.getContainer(await master.containerId(service));
      const inspected = JSON.stringify(await container.inspect());
      expect(inspected, `docker inspect ${service}`).not.toContain(REDIS_PASSWORD);
      expect(inspected).toContain('/run/secrets/redis_password');
      // `docker top` lists every process of the container with its full command line, as `ps` does.
      const top = JSON.stringify(await container.top({ ps_args: '-eo pid,args' }));
      expect(top, `processes of ${service}`).not.toContain(REDIS_PASSWORD);
      expect(top).toMatch(service === 'redis' ? /redis-server/ : /node/);
    }
    // Redis does require it.
    const anonymous = await master.exec('redis', ['redis-cli', 'ping']);
    expect(`${anonymous.stdout}${anonymous.stderr}`).toMatch(/NOAUTH/);
  }, 60_000);

  it('publishes a labelled container on the agent host: DNS record and ingress rule', async () => {
    const agents = await waitFor(
      async () => {
        const listed = JSON.parse((await cli(['agents', 'list', '--json'])).stdout) as {
          agents: { id: string; name: string; status: string; online: boolean }[];
        };
        return listed.agents.find((a) => a.name === 'compose-host' && a.status === 'approved' && a.online);
      },
      { description: 'the agent to register and be online', timeoutMs: 60_000, intervalMs: 500 },
    );

    const hostname = `web.${zoneName}`;
    const name = uniqueName('web');
    const web = await docker.createContainer({
      Image: TEST_WEB_IMAGE,
      name,
      Labels: {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': hostname,
        'tunnelfleet.service': `http://${name}:80`,
      },
      HostConfig: { NetworkMode: network, Init: true },
    });
    webContainers.push(web.id);
    await web.start();

    const tunnelId = await waitFor(
      () => {
        const record = emulator.dnsRecords(zoneName).find((r) => r.name === hostname);
        return record?.type === 'CNAME'
          ? String(record.content).replace(/\.cfargotunnel\.com$/, '')
          : undefined;
      },
      { description: `a CNAME for ${hostname}`, timeoutMs: 60_000, intervalMs: 250 },
    );
    const rules = await waitFor(
      () => {
        const ingress = (
          emulator.tunnelConfig(tunnelId)?.config as { ingress?: { hostname?: string; service: string }[] }
        )?.ingress;
        return ingress?.some((rule) => rule.hostname === hostname) ? ingress : undefined;
      },
      { description: `the ingress rule for ${hostname}`, timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(rules).toContainEqual(expect.objectContaining({ hostname, service: `http://${name}:80` }));
    expect(emulator.tunnels().find((t) => t.id === tunnelId)?.name).toContain(agents.id);

    const routes = await cli(['routes', 'list']);
    expect(routes.stdout).toMatch(
      new RegExp(`^${hostname.replaceAll('.', '\\.')}\\s+http://${name}:80\\s+active\\s+compose-host`, 'm'),
    );

    // The agent's cloudflared (the stand-in image) holds an edge connection for that tunnel.
    await waitFor(() => emulator.tunnelConnections(tunnelId).length > 0, {
      description: "cloudflared's edge connection",
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  }, 180_000);

  it('revoking the agent with the CLI cuts it off: 401, tunnel deleted, cloudflared stopped, unhealthy', async () => {
    const listed = JSON.parse((await cli(['agents', 'list', '--json'])).stdout) as {
      agents: { id: string; name: string }[];
    };
    const agentId = listed.agents.find((a) => a.name === 'compose-host')!.id;
    const tunnel = emulator.tunnels().find((t) => String(t.name).includes(agentId) && !t.deleted_at)!;

    const revoked = await master.exec('master', ['tunnelfleet', 'agents', 'revoke', agentId]);
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked agent ${agentId} (compose-host).\n` });

    await waitFor(() => emulator.tunnels().find((t) => t.id === tunnel.id)?.deleted_at, {
      description: "the agent's tunnel to be deleted at Cloudflare",
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    await waitFor(
      async () => (await statusFromInside(agent, 'agent', 'http://127.0.0.1:8081/healthz')) === '503',
      {
        description: 'the agent health endpoint to report unhealthy',
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    await waitFor(
      async () => {
        const running = await docker.listContainers({
          filters: { network: [network], status: ['running'] },
        });
        return running.every((c) => !c.Image.includes('cloudflared'));
      },
      { description: "the agent's cloudflared to stop", timeoutMs: 60_000, intervalMs: 500 },
    );
    const refused = await fetch(`http://127.0.0.1:${masterPort}${AGENT_ROUTES.heartbeat}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentKey}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(refused.status).toBe(401);
    const shown = JSON.parse((await cli(['agents', 'show', agentId, '--json'])).stdout);
    expect(shown.agent.status).toBe('revoked');
    // The agent process stays up (no restart loop), waiting for a new key.
    const info = await docker.getContainer(await agent.containerId('agent')).inspect();
    expect(info.State.Running).toBe(true);
    expect(info.RestartCount).toBe(0);
  }, 180_000);
});
