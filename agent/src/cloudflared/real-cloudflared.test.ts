import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  type CloudflaredSettings,
  cloudflaredLogLevelSchema,
  cloudflaredSettingsSchema,
  cloudflaredTunnelOptionsSchema,
  heartbeatRequestSchema,
} from '@tunnelfleet/common';
import {
  containerIpAddress,
  ensureRealCloudflaredImage,
  freePort,
  REAL_CLOUDFLARED_IMAGE,
  uniqueName,
  waitFor,
} from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectTestDocker, removeLeftovers } from '../../test/test-docker.js';
import { startTestMaster } from '../../test/test-master.js';
import { createAgent } from '../agent.js';
import { lastOutputLines } from '../docker/container-output.js';
import { buildCloudflaredSpec, cloudflaredMetricsNetwork, managedLabelFilter } from './container-spec.js';
import {
  type CloudflaredSupervisor,
  type CloudflaredSupervisorOptions,
  createCloudflaredSupervisor,
} from './supervisor.js';
import { checkTunnelTokenShape } from './tunnel-token.js';

/*
 * Contract tests: the agent's own container spec and supervisor, run with the real cloudflared
 * (release 2023.7.3 from ../shared/bin, REAL_CLOUDFLARED_IMAGE). It cannot reach Cloudflare from
 * here: without an edge it exits 1 within a second (the SRV lookup fails), which is how these
 * tests see that it accepted its command line and token. The hidden `--edge 127.0.0.1:1` (a
 * closed port inside its own container) keeps it running, not connected, where that is needed.
 * Anything that needs a connection to the emulated edge uses the stand-in image instead.
 */

const METRICS_PORT = 20241;
/** Keeps the real cloudflared up offline: it retries this closed address instead of exiting. */
const CLOSED_EDGE = ['--edge', '127.0.0.1:1'];

let docker: Docker;
let network: string;
let metricsNetwork: string;
const agentIds: string[] = [];
const containers: string[] = [];
const supervisors: CloudflaredSupervisor[] = [];

beforeAll(async () => {
  docker = await connectTestDocker();
  // Fails here, saying where the binary belongs, when ../shared/bin has no real cloudflared.
  await ensureRealCloudflaredImage(docker);
  network = uniqueName('tf-cfd-real');
  metricsNetwork = cloudflaredMetricsNetwork(network);
  await docker.createNetwork({ Name: network });
  await docker.createNetwork({ Name: metricsNetwork, Internal: true });
});

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((supervisor) => supervisor.stop()));
});

afterAll(async () => {
  const managed = await Promise.all(
    agentIds.map((agentId) =>
      docker.listContainers({ all: true, filters: { label: managedLabelFilter(agentId) } }),
    ),
  );
  await removeLeftovers(docker, {
    containers: [...containers, ...managed.flat().map((c) => c.Id)],
    networks: network ? [network, metricsNetwork] : [],
  });
});

/** A token of the shape Cloudflare issues; the real cloudflared accepts it without an edge. */
function realShapedToken(tunnelId = randomUUID()): string {
  const claims = { a: randomBytes(16).toString('hex'), t: tunnelId, s: randomBytes(32).toString('base64') };
  return Buffer.from(JSON.stringify(claims)).toString('base64');
}

/** Creates and starts the container the agent would create for `settings`. */
async function runSpec(settings: CloudflaredSettings, token = realShapedToken()) {
  const agentId = uniqueName('agent-real');
  const spec = buildCloudflaredSpec({
    agentId,
    tunnelId: randomUUID(),
    token,
    image: REAL_CLOUDFLARED_IMAGE,
    network,
    metricsNetwork,
    metricsPort: METRICS_PORT,
    settings,
  });
  const container = await docker.createContainer(spec.createOptions);
  containers.push(container.id);
  // As the supervisor does: its metrics alias exists on the metrics network only.
  await docker
    .getNetwork(metricsNetwork)
    .connect({ Container: container.id, EndpointConfig: { Aliases: [spec.metricsAlias] } });
  await container.start();
  return { spec, container };
}

async function runToExit(settings: CloudflaredSettings, token?: string) {
  const { spec, container } = await runSpec(settings, token);
  const { StatusCode } = (await container.wait()) as { StatusCode: number };
  const output = await lastOutputLines(docker, container.id, 200);
  return { spec, exitCode: StatusCode, output: output.join('\n') };
}

function supervise(overrides: Partial<CloudflaredSupervisorOptions> = {}) {
  const agentId = uniqueName('agent-real');
  agentIds.push(agentId);
  const supervisor = createCloudflaredSupervisor({
    docker,
    logger: pino({ level: 'silent' }),
    agentId,
    network,
    metricsNetwork,
    image: REAL_CLOUDFLARED_IMAGE,
    metricsPort: METRICS_PORT,
    checkIntervalMs: 250,
    restartBackoff: { initialDelayMs: 100, maxDelayMs: 400 },
    ...overrides,
  });
  supervisors.push(supervisor);
  return supervisor;
}

/**
 * Every protocol with every log level and with and without post-quantum, as the API allows them
 * (post-quantum is refused with http2), and every value of the other typed settings spread over
 * them, so that each value appears with several others on one command line.
 */
function everyCommandLineSetting(): CloudflaredSettings[] {
  const options = cloudflaredTunnelOptionsSchema.shape;
  const protocols = [undefined, ...options.protocol.unwrap().options];
  const logLevels = [undefined, ...cloudflaredLogLevelSchema.options];
  const edgeIpVersions = [undefined, ...options.edgeIpVersion.unwrap().options];
  const regions = [undefined, ...options.region.unwrap().options];
  const retries = [undefined, 0, 5, 100];
  const combinations: CloudflaredSettings[] = [];
  protocols.forEach((protocol, i) => {
    logLevels.forEach((logLevel, j) => {
      for (const postQuantum of [false, true]) {
        const k = i + j + (postQuantum ? 1 : 0);
        const edgeIpVersion = edgeIpVersions[k % edgeIpVersions.length];
        const region = regions[k % regions.length];
        const retry = retries[k % retries.length];
        const settings: CloudflaredSettings = {
          ...(protocol ? { protocol } : {}),
          ...(logLevel ? { logLevel } : {}),
          ...(postQuantum ? { postQuantum } : {}),
          ...(edgeIpVersion ? { edgeIpVersion } : {}),
          ...(region ? { region } : {}),
          ...(retry !== undefined ? { retries: retry } : {}),
          ...(k % 3 === 1 ? { gracePeriodSeconds: 45 } : {}),
          ...(k % 2 === 1 ? { metricsPort: 9000 + k } : {}),
          ...(k % 3 === 0 ? { extraArgs: ['--grace-period', '45s'] } : {}),
        };
        if (cloudflaredSettingsSchema.safeParse(settings).success) combinations.push(settings);
      }
    });
  });
  return combinations;
}

describe('the real cloudflared runs the command lines the agent builds', () => {
  it('accepts every typed setting, and every protocol with every log level and post-quantum', async () => {
    const combinations = everyCommandLineSetting();
    // Every value of every typed setting is on some command line, and post-quantum with each protocol it allows.
    const options = cloudflaredTunnelOptionsSchema.shape;
    const values: Array<[keyof CloudflaredSettings, readonly unknown[]]> = [
      ['edgeIpVersion', options.edgeIpVersion.unwrap().options],
      ['region', options.region.unwrap().options],
      ['retries', [0, 5, 100]],
      ['gracePeriodSeconds', [45]],
      ['logLevel', cloudflaredLogLevelSchema.options],
    ];
    for (const [key, wanted] of values)
      for (const value of wanted)
        expect(
          combinations.some((c) => c[key] === value),
          `${key}=${value}`,
        ).toBe(true);
    for (const protocol of [undefined, 'auto', 'quic'])
      expect(
        combinations.some((c) => c.postQuantum && c.protocol === protocol),
        `post-quantum with ${protocol}`,
      ).toBe(true);
    // Four at a time: the machine is shared.
    for (let i = 0; i < combinations.length; i += 4) {
      const runs = await Promise.all(combinations.slice(i, i + 4).map((settings) => runToExit(settings)));
      for (const [k, run] of runs.entries()) {
        const what = `${JSON.stringify(combinations[i + k])} → ${JSON.stringify(run.spec.createOptions.Cmd)}`;
        // Accepted: it parsed the command line and the token, then looked for the edge and gave up.
        expect(run.output, what).not.toContain('Incorrect Usage');
        expect(run.output, what).toContain('Could not lookup srv records');
        expect(run.exitCode, what).toBe(1);
      }
    }
    // Dozens of real cloudflared runs, four at a time: far past the default 30 s on two loaded cores.
  }, 300_000);

  it('answers /ready with 503 and its JSON while not connected, and stops gracefully on SIGTERM', async () => {
    const { spec, container } = await runSpec({ extraArgs: [...CLOSED_EDGE, '--grace-period', '10s'] });
    expect(spec.createOptions.StopTimeout).toBe(15);
    const address = await containerIpAddress(docker, container.id, metricsNetwork);
    const ready = await waitFor(
      () => fetch(`http://${address}:${METRICS_PORT}/ready`).catch(() => undefined),
      { description: "the real cloudflared's metrics server" },
    );
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 503,
      readyConnections: 0,
      connectorId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const metrics = await (await fetch(`http://${address}:${METRICS_PORT}/metrics`)).text();
    expect(metrics).toMatch(/build_info\{[^}]*version="2023\.7\.3"[^}]*\} 1/);

    // As the supervisor stops it: no timeout of its own, so Docker waits the container's StopTimeout.
    await container.stop();
    const stopped = await container.inspect();
    // dockerode's inspect type lacks the field Docker does return.
    expect((stopped.Config as { StopTimeout?: number }).StopTimeout).toBe(15);
    // 0, not 137: cloudflared finished its shutdown before Docker resorted to SIGKILL.
    expect(stopped.State.ExitCode).toBe(0);
    expect((await lastOutputLines(docker, container.id, 200)).join('\n')).toContain(
      'Initiating graceful shutdown',
    );
  });

  it('refuses post-quantum with http2 as the settings schema does', async () => {
    const settings = { protocol: 'http2' as const, postQuantum: true };
    expect(cloudflaredSettingsSchema.safeParse(settings).success).toBe(false);
    const run = await runToExit(settings);
    expect(run.output).toContain('post-quantum is only supported with the quic transport');
    expect(run.exitCode).toBe(1);
  });

  it('refuses the tokens the agent refuses, with exit code 255', async () => {
    const malformed = [
      'not a token!',
      Buffer.from('not json at all').toString('base64'),
      Buffer.from(JSON.stringify({ a: 'x', t: 'not-a-uuid', s: 'c2VjcmV0' })).toString('base64'),
    ];
    for (const token of malformed) {
      expect(() => checkTunnelTokenShape(token)).toThrow(/tunnel token is malformed/);
      const run = await runToExit({}, token);
      expect(run.exitCode).toBe(255);
      expect(run.output).toContain('Provided Tunnel token is not valid.');
    }
  });
});

/** A supervisor told to run the real cloudflared for a new tunnel, with these extra arguments. */
async function superviseRunning(extraArgs: string[]) {
  const supervisor = supervise();
  await supervisor.apply({
    state: 'running',
    tunnelId: randomUUID(),
    tunnelName: 'contract',
    token: realShapedToken(),
    settings: { extraArgs },
  });
  return supervisor;
}

describe('the supervisor runs the real cloudflared', () => {
  it('reports a flag cloudflared does not know as a configuration error and does not restart it', async () => {
    const supervisor = await superviseRunning(['--no-such-flag']);
    // cloudflared prints "Incorrect Usage" and its help, and exits 0.
    const status = await waitFor(
      () => (supervisor.status().state === 'running' ? undefined : supervisor.status()),
      { description: 'the supervisor to notice cloudflared exited' },
    );
    expect(status).toMatchObject({
      state: 'failed',
      restarts: 0,
      problem: { code: 'invalid_arguments', message: expect.stringContaining('-no-such-flag') },
    });
    // The help text says nothing about what went wrong: it must not become the error.
    expect(status.lastError).not.toMatch(/USAGE:|OPTIONS:|NAME:/);
    const info = await docker.getContainer(status.containerId!).inspect();
    expect(info.State).toMatchObject({ Running: false, ExitCode: 0 });
  });

  it("reports the real cloudflared's release and connector id from its metrics server", async () => {
    const supervisor = await superviseRunning(CLOSED_EDGE);
    const status = await waitFor(() => (supervisor.status().version ? supervisor.status() : undefined), {
      description: 'the supervisor to read build_info from /metrics',
    });
    expect(status).toMatchObject({
      ready: false,
      image: REAL_CLOUDFLARED_IMAGE,
      version: '2023.7.3',
      connectorId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    // Its /config says version -1 until the edge sends one: not a version it serves.
    expect(status.configVersion).toBeUndefined();
    expect(() =>
      heartbeatRequestSchema.shape.cloudflared.parse({
        state: 'running',
        ready: false,
        tunnelId: null,
        containerId: status.containerId,
        image: status.image,
        version: status.version,
        connectorId: status.connectorId,
      }),
    ).not.toThrow();
  });

  it('shows an offline host as "cannot reach Cloudflare\'s edge", backs off, and warns once', async () => {
    const lines: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    const supervisor = supervise({ logger });
    const tunnelId = randomUUID();
    await supervisor.apply({
      state: 'running',
      tunnelId,
      tunnelName: 'contract',
      token: realShapedToken(tunnelId),
    });
    await waitFor(() => supervisor.status().restarts >= 3, {
      description: 'three restarts of the offline cloudflared',
      timeoutMs: 60_000,
    });
    const status = supervisor.status();
    expect(status.ready).toBe(false);
    expect(status.problem).toMatchObject({
      code: 'edge_unreachable',
      message: expect.stringMatching(/^cannot reach Cloudflare's edge/),
    });
    // What the heartbeat carries is valid protocol.
    expect(() =>
      heartbeatRequestSchema.shape.cloudflared.parse({
        state: status.state === 'pulling' ? 'missing' : status.state,
        ready: status.ready,
        tunnelId,
        containerId: status.containerId ?? null,
        problem: status.problem,
      }),
    ).not.toThrow();
    const retries = lines.filter((line) => line.msg === 'cloudflared is down; retrying');
    expect(retries.length).toBeGreaterThanOrEqual(3);
    // 40 is warn in pino: the first one only; the repeats go to debug.
    expect(retries.filter((line) => line.level === 40)).toHaveLength(1);
  });
});

describe('the agent with the real cloudflared, on a host that cannot reach Cloudflare', () => {
  it("tells the master its cloudflared cannot reach Cloudflare's edge", async () => {
    // The master hands out the real image in start_tunnel; its emulator's token has the real shape.
    const master = await startTestMaster({ env: { CLOUDFLARED_IMAGE: REAL_CLOUDFLARED_IMAGE } });
    const dataDir = await mkdtemp(join(tmpdir(), 'tf-agent-real-'));
    try {
      const { key } = await master.admin.createKey({ name: uniqueName('host-real') });
      const agent = createAgent({
        masterUrl: master.url,
        apiKey: key,
        agentName: 'offline-host',
        dataDir,
        docker,
        logger: pino({ level: 'silent' }),
        cloudflaredImage: REAL_CLOUDFLARED_IMAGE,
        cloudflaredNetwork: network,
        reportIntervalSeconds: 1,
        healthPort: await freePort(),
        healthHost: '127.0.0.1',
        tuning: { cloudflaredCheckIntervalMs: 250 },
      });
      await agent.start();
      try {
        const agentId = await waitFor(() => agent.agentId(), { description: 'the agent to register' });
        agentIds.push(agentId);
        const cloudflared = await waitFor(
          async () => {
            const state = (await master.admin.agent(agentId)).lastState?.cloudflared as
              | { state: string; problem?: { code: string; message: string } }
              | undefined;
            return state?.problem ? state : undefined;
          },
          { description: "the master to hear about cloudflared's problem", timeoutMs: 60_000 },
        );
        expect(cloudflared.problem).toMatchObject({
          code: 'edge_unreachable',
          message: expect.stringMatching(/^cannot reach Cloudflare's edge/),
        });
        expect(['restarting', 'running']).toContain(cloudflared.state);
      } finally {
        await agent.stop();
      }
    } finally {
      await master.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
