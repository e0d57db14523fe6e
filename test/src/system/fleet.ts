import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import {
  type CloudflareEmulator,
  type CloudflareEmulatorOptions,
  startCloudflareEmulator,
} from '../cloudflare-emulator/index.js';
import { connectDockerEngine } from '../harness/docker-engine.js';
import { freePort } from '../harness/free-port.js';
import { HarnessError } from '../harness/harness-error.js';
import { hostAddressForEngine } from '../harness/host-network.js';
import {
  type RedisServerHandle,
  type RedisServerOptions,
  startRedisServer,
} from '../harness/redis-server.js';
import { ensureTestImages, TEST_WEB_IMAGE } from '../harness/test-images.js';
import { uniqueName } from '../harness/unique-name.js';
import { waitFor } from '../harness/wait-for.js';
import type { AdminClient } from './admin-client.js';
import { type AgentProcess, startAgentProcess } from './agent-process.js';
import { type CloudflareAccount, createCloudflareAccount } from './cloudflare-account.js';
import { type MasterProcess, startMasterProcess } from './master-process.js';
import { type SecondDockerEngine, startSecondDockerEngine } from './second-docker-engine.js';
import { type SecretLeak, SecretRegistry } from './secret-scan.js';

/** Labels the agent puts on the cloudflared container it manages (agent/src/cloudflared). */
const MANAGED_CLOUDFLARED_LABEL = 'tunnelfleet.managed=cloudflared';
export const CLOUDFLARED_AGENT_ID_LABEL = 'tunnelfleet.agent-id';

export interface FleetOptions {
  /** Zones of the emulated account; default example.com and example.org. */
  zones?: string[];
  /** Extra master environment, e.g. `{ GRACE_PERIOD_SECONDS: '2' }`. */
  masterEnv?: Record<string, string>;
  /** Extra environment of both agents. */
  agentEnv?: Record<string, string>;
  /** Extra environment of one host's agent (after `agentEnv`), e.g. `{ b: { GATEWAY_IMAGE: … } }`. */
  hostEnv?: { a?: Record<string, string>; b?: Record<string, string> };
  /**
   * Name of host B's engine (`docker2`…`docker29`). Every agent reports every labelled container
   * of its engine, so two fleets running at once must not share one: each test file names its own.
   */
  secondEngine: string;
  /** Default: AOF persistence, as the compose file runs Redis. */
  redis?: RedisServerOptions;
  emulator?: Omit<CloudflareEmulatorOptions, 'host' | 'port' | 'edgeUrl'>;
}

export interface TestContainer {
  id: string;
  name: string;
  container: Docker.Container;
}

/** One simulated Docker host: an engine, a network for cloudflared and the apps, and its agent. */
export interface FleetHost {
  /** `host-a` (main engine) or `host-b` (second engine). */
  readonly name: string;
  readonly docker: Docker;
  readonly dockerHost: string;
  /** The agent's CLOUDFLARED_NETWORK; `runContainer` attaches apps to it. */
  readonly network: string;
  readonly apiKey: string;
  readonly keyId: string;
  readonly agent: AgentProcess;
  /** The agent's id once it registered (waits for it). */
  agentId(): Promise<string>;
  /** A web container (busybox httpd on port 80) with these labels, started unless `start: false`. */
  runContainer(options: {
    labels: Record<string, string>;
    name?: string;
    start?: boolean;
    /** Instead of the web image's server, e.g. `sh -c` around it: a slow start, log lines. */
    entrypoint?: string[];
  }): Promise<TestContainer>;
  /** The agent's managed cloudflared containers, in every state. */
  cloudflared(): Promise<Docker.ContainerInfo[]>;
}

export interface Fleet {
  readonly redis: RedisServerHandle;
  readonly emulator: CloudflareEmulator;
  readonly cloudflare: CloudflareAccount;
  readonly master: MasterProcess;
  readonly admin: AdminClient;
  /**
   * Host A runs on the main engine, which other tests share: its agent also reports their labelled
   * containers. Host B runs on the fleet's own engine and sees only what the test starts there.
   */
  readonly a: FleetHost;
  readonly b: FleetHost;
  readonly secondEngine: SecondDockerEngine;
  /** Secrets of this run; `collectSecrets` adds the tunnel tokens seen so far. */
  readonly secrets: SecretRegistry;
  /** Adds the token of every live tunnel and of each agent's cache to `secrets` (call before rotations). */
  collectSecrets(): Promise<void>;
  /** Collects once more, then scans the master and agent logs for every secret of the run. */
  leakedSecrets(): Promise<SecretLeak[]>;
  /** Stops every process and removes every container, network and temp dir the fleet created. */
  teardown(): Promise<void>;
}

/**
 * The whole system in processes: a private redis-server, the Cloudflare emulator (its edge
 * reachable from containers of both engines at an address of this host), the master,
 * and two agents as two hosts — host A on the main engine, host B on a second engine.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const cleanups: Array<{ what: string; run: () => Promise<unknown> }> = [];
  const onTeardown = (what: string, run: () => Promise<unknown>) => cleanups.push({ what, run });
  const runDir = await mkdtemp(join(tmpdir(), 'tunnelfleet-e2e-'));
  onTeardown('remove the run dir', () =>
    process.env.TUNNELFLEET_E2E_KEEP_LOGS ? Promise.resolve() : rm(runDir, { recursive: true, force: true }),
  );
  const teardown = async () => {
    const failures: string[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup.run().catch((error: Error) => failures.push(`${cleanup.what}: ${error.message}`));
    }
    if (failures.length > 0) throw new HarnessError(`fleet teardown: ${failures.join('; ')}`);
  };

  try {
    const main = await connectDockerEngine();
    const [secondEngine, redis, emulator] = await Promise.all([
      startSecondDockerEngine({ name: options.secondEngine }),
      startRedisServer(options.redis ?? { appendonly: true }),
      startEmulatorForContainers(main, options.emulator ?? {}),
      ensureTestImages(main),
    ]);
    onTeardown('stop redis', () => redis.stop());
    onTeardown('close the emulator', () => emulator.close());
    const cloudflare = createCloudflareAccount(emulator, options.zones ?? ['example.com', 'example.org']);
    const master = await startMasterProcess({
      redisUrl: redis.url,
      cloudflare,
      dataDir: join(runDir, 'master-data'),
      logFile: join(runDir, 'master.log'),
      ...(options.masterEnv ? { env: options.masterEnv } : {}),
    }).catch((error: Error) => {
      // A master that cannot reach Redis says only "ECONNREFUSED": say why Redis is gone.
      const redisGone = redis.unexpectedExit();
      throw redisGone ? new HarnessError(`${error.message}\n${redisGone}`) : error;
    });
    onTeardown('stop the master', () => master.close());

    // The harness reads tunnel tokens with a token of its own, out of the master's rate budget.
    const inspectorToken = emulator.createToken({
      accountIds: [cloudflare.accountId],
      zoneNames: 'all',
      name: 'e2e-inspector',
    });
    const secrets = new SecretRegistry();
    secrets.add('admin token', master.adminToken);
    secrets.add('Cloudflare API token', cloudflare.apiToken);

    const startHost = async (
      name: string,
      docker: Docker,
      dockerHost: string,
      ownEnv: Record<string, string> | undefined,
      engine?: SecondDockerEngine,
    ) => {
      const network = uniqueName(`tf-e2e-${name}`);
      await (engine
        ? engine.createAgentNetworks(network)
        : docker.createNetwork({ Name: network, CheckDuplicate: true }));
      onTeardown(`remove network ${network}`, async () => {
        // The fleet's own network: a container still on it is the fleet's (a cloudflared the agent
        // was replacing when it stopped, say), so it goes with the network. A loaded engine may
        // still hold an endpoint of a container whose removal it has not finished, or one left
        // behind by a container already gone: until the network goes, its containers are removed
        // again, their endpoints disconnected by force, and the removal is retried.
        await waitFor(
          async () => {
            const { Containers } = (await docker.getNetwork(network).inspect()) as Docker.NetworkInspectInfo;
            for (const id of Object.keys(Containers ?? {})) {
              await docker
                .getContainer(id)
                .remove({ force: true })
                .catch(() => undefined);
              await docker
                .getNetwork(network)
                .disconnect({ Container: id, Force: true })
                .catch(() => undefined);
            }
            await docker.getNetwork(network).remove();
            return true;
          },
          { description: `network ${network} removed`, timeoutMs: 30_000, intervalMs: 500 },
        );
      });
      // The agent's cloudflared metrics network (agent/src/cloudflared/container-spec.ts), made
      // with its first cloudflared.
      onTeardown(`remove network ${network}-metrics`, () =>
        docker
          .getNetwork(`${network}-metrics`)
          .remove()
          .catch(() => undefined),
      );
      const { key, keyId } = await master.admin.createKey({ name: uniqueName(name) });
      secrets.add(`API key ${name}`, key);
      const dataDir = join(runDir, `${name}-data`);
      await mkdir(dataDir, { recursive: true });
      const agent = await startAgentProcess({
        masterUrl: master.url,
        apiKey: key,
        name,
        dockerHost,
        dataDir,
        cloudflaredNetwork: network,
        logFile: join(runDir, `agent-${name}.log`),
        ...(options.agentEnv || ownEnv ? { env: { ...options.agentEnv, ...ownEnv } } : {}),
      });
      const host = createFleetHost({ name, docker, dockerHost, network, apiKey: key, keyId, agent });
      // Runs before the network is removed (cleanups run in reverse).
      onTeardown(`stop ${name} and remove its containers`, async () => {
        await agent.stop();
        await removeContainers(docker, { network: [network] });
        const agentId = await agent.agentId();
        if (agentId) await removeContainers(docker, { label: [`${CLOUDFLARED_AGENT_ID_LABEL}=${agentId}`] });
      });
      return host;
    };
    const [a, b] = await Promise.all([
      startHost('host-a', main, process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock', options.hostEnv?.a),
      startHost('host-b', secondEngine.docker, secondEngine.dockerHost, options.hostEnv?.b, secondEngine),
    ]);

    const collectSecrets = async () => {
      for (const host of [a, b]) {
        const token = (await host.agent.tunnelState())?.token;
        if (typeof token === 'string') secrets.add(`tunnel token ${host.name} (cache)`, token);
      }
      for (const tunnel of emulator.tunnels()) {
        if (tunnel.deleted_at) continue;
        const token = await tunnelToken(cloudflare, inspectorToken, String(tunnel.id));
        if (token) secrets.add(`tunnel token ${String(tunnel.name)}`, token);
      }
    };

    return {
      redis,
      emulator,
      cloudflare,
      master,
      admin: master.admin,
      a,
      b,
      secondEngine,
      secrets,
      collectSecrets,
      async leakedSecrets() {
        await collectSecrets();
        return secrets.scan([master.logFile, a.agent.logFile, b.agent.logFile]);
      },
      teardown,
    };
  } catch (error) {
    await teardown().catch(() => undefined);
    throw error;
  }
}

function createFleetHost(parts: {
  name: string;
  docker: Docker;
  dockerHost: string;
  network: string;
  apiKey: string;
  keyId: string;
  agent: AgentProcess;
}): FleetHost {
  const { docker, agent } = parts;
  // 90 s: in a full CI run (2026-12-06) a host on a second engine did not register within 30 s,
  // and passed alone; the fleet's start allows 180 s in all.
  const agentId = () =>
    waitFor(() => agent.agentId(), { description: `${parts.name}'s agent to register`, timeoutMs: 90_000 });
  return {
    ...parts,
    agentId,
    async runContainer({ labels, name, start = true, entrypoint }) {
      const containerName = name ?? uniqueName(`tf-e2e-app-${parts.name}`);
      const container = await docker.createContainer({
        name: containerName,
        Image: TEST_WEB_IMAGE,
        ...(entrypoint ? { Entrypoint: entrypoint } : {}),
        Labels: labels,
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { Init: true, NetworkMode: parts.network },
      });
      if (start) await container.start();
      return { id: container.id, name: containerName, container };
    },
    async cloudflared() {
      const id = await agentId();
      return docker.listContainers({
        all: true,
        filters: { label: [MANAGED_CLOUDFLARED_LABEL, `${CLOUDFLARED_AGENT_ID_LABEL}=${id}`] },
      });
    },
  };
}

async function removeContainers(docker: Docker, filters: Record<string, string[]>): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch((error: { statusCode?: number }) => {
          if (error.statusCode !== 404) throw error;
        }),
    ),
  );
}

/**
 * The emulator on 0.0.0.0 with its edge URL on an address of this host that containers reach
 * (`hostAddressForEngine`): containers of the main engine through their bridge, and those of
 * the second engine (no NAT, own bridges) through the host's routing, since the address is local.
 */
export async function startEmulatorForContainers(
  main: Docker,
  options: Omit<CloudflareEmulatorOptions, 'host' | 'port' | 'edgeUrl'>,
): Promise<CloudflareEmulator> {
  const hostAddress = await hostAddressForEngine(main);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort('0.0.0.0');
    try {
      return await startCloudflareEmulator({
        ...options,
        host: '0.0.0.0',
        port,
        edgeUrl: `http://${hostAddress}:${port}`,
      });
    } catch (error) {
      if (attempt >= 5 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
}

/** The current token of a tunnel, read over the API like the master does; undefined once deleted. */
async function tunnelToken(
  cloudflare: CloudflareAccount,
  apiToken: string,
  tunnelId: string,
): Promise<string | undefined> {
  const response = await fetch(
    `${cloudflare.baseUrl}/accounts/${cloudflare.accountId}/cfd_tunnel/${tunnelId}/token`,
    {
      headers: { authorization: `Bearer ${apiToken}` },
    },
  );
  if (!response.ok) return undefined;
  const body = (await response.json()) as { result?: unknown };
  return typeof body.result === 'string' ? body.result : undefined;
}
