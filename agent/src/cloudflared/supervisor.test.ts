import { randomUUID } from 'node:crypto';
import {
  CLOUDFLARED_IMAGE,
  TEST_CLOUDFLARED_IMAGE,
  TEST_CLOUDFLARED_NEVER_READY_IMAGE,
  TEST_CLOUDFLARED_NEXT_IMAGE,
  TEST_CLOUDFLARED_NEXT_VERSION,
  uniqueName,
  waitFor,
} from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { standaloneTunnelToken } from '../../test/standalone-tunnel-token.js';
import { connectTestDocker, fetchFromNetwork, removeLeftovers } from '../../test/test-docker.js';
import {
  CLOUDFLARED_LABELS,
  cloudflaredMetricsNetwork,
  managedLabelFilter,
  tokenHash,
} from './container-spec.js';
import { CloudflaredImageUnavailableError } from './errors.js';
import {
  type CloudflaredDesired,
  type CloudflaredSupervisor,
  type CloudflaredSupervisorOptions,
  createCloudflaredSupervisor,
} from './supervisor.js';

const logger = pino({ level: 'silent' });
const METRICS_PORT = 20241;

let docker: Docker;
const agentIds: string[] = [];
/**
 * One shared network (and so one metrics network) for every test, as on a real host: each network
 * takes one of the engine's few address pools, and the engine is shared with other test runs
 * ("could not find an available, non-overlapping IPv4 address pool" otherwise).
 */
const network = uniqueName('tf-cfd-net');
const supervisors: CloudflaredSupervisor[] = [];

beforeAll(async () => {
  docker = await connectTestDocker();
});

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((supervisor) => supervisor.stop()));
});

afterAll(async () => {
  const containers = (await Promise.all(agentIds.map((id) => managed(id)))).flat().map((c) => c.Id);
  await removeLeftovers(docker, { containers, networks: [network, cloudflaredMetricsNetwork(network)] });
});

function managed(agentId: string) {
  return docker.listContainers({ all: true, filters: { label: managedLabelFilter(agentId) } });
}

function setup() {
  const agentId = uniqueName('agent');
  agentIds.push(agentId);
  const desired: CloudflaredDesired = {
    tunnelId: randomUUID(),
    tunnelName: 'test-tunnel',
    token: standaloneTunnelToken(),
    image: CLOUDFLARED_IMAGE,
    state: 'running',
  };
  const supervise = (overrides: Partial<CloudflaredSupervisorOptions> = {}) => {
    const supervisor = createCloudflaredSupervisor({
      docker,
      logger,
      agentId,
      network,
      metricsNetwork: cloudflaredMetricsNetwork(network),
      image: CLOUDFLARED_IMAGE,
      metricsPort: METRICS_PORT,
      checkIntervalMs: 250,
      restartBackoff: { initialDelayMs: 200, maxDelayMs: 2_000 },
      ...overrides,
    });
    supervisors.push(supervisor);
    return supervisor;
  };
  return { agentId, network, desired, supervise };
}

describe('createCloudflaredSupervisor', () => {
  it('runs one labelled cloudflared with the token in its environment only, and reports ready', async () => {
    const { agentId, network, desired, supervise } = setup();
    const supervisor = supervise();
    const applied = await supervisor.apply(desired);
    expect(applied.state).toBe('running');
    expect(applied.tunnelId).toBe(desired.tunnelId);

    await waitFor(() => supervisor.status().ready, { description: 'cloudflared ready' });
    const [info] = await managed(agentId);
    const inspect = await docker.getContainer(info!.Id).inspect();
    expect(inspect.Id).toBe(supervisor.status().containerId);
    expect(inspect.Name).toMatch(/^\/tunnelfleet-cloudflared-/);
    expect(inspect.Config.Env).toContain(`TUNNEL_TOKEN=${desired.token}`);
    expect(inspect.Config.Cmd).toEqual([
      'tunnel',
      '--no-autoupdate',
      '--metrics',
      expect.stringMatching(new RegExp(`^tunnelfleet-metrics-[0-9a-f]{12}:${METRICS_PORT}$`)),
      'run',
    ]);
    expect(JSON.stringify([inspect.Config.Cmd, inspect.Config.Entrypoint, inspect.Args])).not.toContain(
      desired.token,
    );
    expect(inspect.Config.Labels).toMatchObject({
      [CLOUDFLARED_LABELS.managed]: 'cloudflared',
      [CLOUDFLARED_LABELS.agentId]: agentId,
      [CLOUDFLARED_LABELS.tokenHash]: tokenHash(desired.token),
      [CLOUDFLARED_LABELS.image]: CLOUDFLARED_IMAGE,
    });
    expect(inspect.HostConfig.RestartPolicy?.Name).toBe('no');
    expect(inspect.HostConfig.Init).toBe(true);
    expect(Object.keys(inspect.NetworkSettings.Networks).sort()).toEqual(
      [network, cloudflaredMetricsNetwork(network)].sort(),
    );
  });

  it("keeps cloudflared's metrics out of reach of the containers on the shared network", async () => {
    const { agentId, network, desired, supervise } = setup();
    const supervisor = supervise();
    await supervisor.apply(desired);
    await waitFor(() => supervisor.status().ready, { description: 'cloudflared ready' });
    const inspect = await docker.getContainer((await managed(agentId))[0]!.Id).inspect();
    const metricsNetwork = cloudflaredMetricsNetwork(network);
    const sharedAddress = inspect.NetworkSettings.Networks[network]?.IPAddress;
    const metricsAddress = inspect.NetworkSettings.Networks[metricsNetwork]?.IPAddress;
    const alias = (inspect.Config.Cmd[3] ?? '').split(':')[0];

    // What a published container tries: the port on cloudflared's address, its other address, its alias.
    for (const target of [sharedAddress, metricsAddress, alias]) {
      expect(
        await fetchFromNetwork(docker, network, `http://${target}:${METRICS_PORT}/ready`),
        `from ${network} to ${target}`,
      ).toBe('unreachable');
    }
    // The same request from the metrics network gets through: the refusals above are the isolation.
    expect(await fetchFromNetwork(docker, metricsNetwork, `http://${alias}:${METRICS_PORT}/ready`)).toBe(
      'reached',
    );
  });

  it('brings back a cloudflared killed from outside', async () => {
    const { desired, supervise } = setup();
    const supervisor = supervise();
    await supervisor.apply(desired);
    await waitFor(() => supervisor.status().ready, { description: 'cloudflared ready' });
    const { containerId } = supervisor.status();

    await docker.getContainer(containerId!).kill();
    await waitFor(() => supervisor.status().restarts >= 1, { description: 'a restart after the kill' });
    await waitFor(() => supervisor.status().state === 'running' && supervisor.status().ready, {
      description: 'cloudflared running and ready again',
    });
    expect((await docker.getContainer(supervisor.status().containerId!).inspect()).State.Running).toBe(true);
  });

  it('restarts a crashing cloudflared with backoff and says why it exits', async () => {
    const { desired, supervise } = setup();
    const supervisor = supervise();
    // No tunnel id or secret: the stand-in, like cloudflared, refuses it and exits 1.
    const badToken = Buffer.from(JSON.stringify({ a: 'account-without-tunnel' })).toString('base64');
    await supervisor.apply({ ...desired, token: badToken });
    await waitFor(() => supervisor.status().restarts >= 2, {
      description: 'two restarts of the crashing cloudflared',
    });
    const status = supervisor.status();
    expect(status.ready).toBe(false);
    expect(status.lastError).toContain('exit code 1');
    expect(status.lastError).toContain('Tunnel token is not valid');
    expect(status.lastError).not.toContain(badToken);

    // A good token ends the loop.
    await supervisor.apply(desired);
    await waitFor(() => supervisor.status().ready, { description: 'cloudflared ready with a valid token' });
    expect(supervisor.status().lastError).toBeUndefined();
  });

  it('recreates a cloudflared removed from outside', async () => {
    const { agentId, desired, supervise } = setup();
    const supervisor = supervise();
    await supervisor.apply(desired);
    const { containerId } = supervisor.status();

    await docker.getContainer(containerId!).remove({ force: true });
    await waitFor(() => supervisor.status().containerId !== containerId && supervisor.status().ready, {
      description: 'a new ready cloudflared',
    });
    expect((await managed(agentId)).map((c) => c.Id)).toEqual([supervisor.status().containerId]);
  });

  it('replaces the container when the token or image changes and keeps it when nothing changes', async () => {
    const { agentId, desired, supervise } = setup();
    const supervisor = supervise();
    const first = await supervisor.apply(desired);
    const again = await supervisor.apply({ ...desired });
    expect(again.containerId).toBe(first.containerId);

    const rotated = { ...desired, token: standaloneTunnelToken() };
    const second = await supervisor.apply(rotated);
    expect(second.containerId).not.toBe(first.containerId);
    const containers = await managed(agentId);
    expect(containers.map((c) => c.Id)).toEqual([second.containerId]);
    expect(containers[0]!.Labels[CLOUDFLARED_LABELS.tokenHash]).toBe(tokenHash(rotated.token));
    expect(containers[0]!.Labels[CLOUDFLARED_LABELS.tokenHash]).not.toBe(tokenHash(desired.token));
    await waitFor(() => supervisor.status().ready, { description: 'the new cloudflared ready' });

    const third = await supervisor.apply({ ...rotated, image: TEST_CLOUDFLARED_IMAGE });
    expect(third.containerId).not.toBe(second.containerId);
    const [replaced] = await managed(agentId);
    expect(replaced?.Labels[CLOUDFLARED_LABELS.image]).toBe(TEST_CLOUDFLARED_IMAGE);
    expect(replaced?.Id).toBe(third.containerId);
  });

  /** The managed containers' start and die events between `since` and now, in order. */
  async function lifecycle(agentId: string, since: number) {
    const stream = (await docker.getEvents({
      since: Math.floor(since / 1000),
      until: Math.ceil(Date.now() / 1000) + 1,
      filters: { type: ['container'], event: ['start', 'die'], label: managedLabelFilter(agentId) },
    })) as NodeJS.ReadableStream;
    const text = await new Promise<string>((resolve, reject) => {
      let buffer = '';
      stream.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
      });
      stream.on('end', () => resolve(buffer));
      stream.on('error', reject);
    });
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { Action: string; id: string; timeNano: number })
      .sort((x, y) => x.timeNano - y.timeNano)
      .map((event) => `${event.Action}:${event.id}`);
  }

  it('keeps a replaced cloudflared serving until its successor is ready (0: stops it first)', async () => {
    const { agentId, desired, supervise } = setup();
    const supervisor = supervise({ overlapMs: 15_000 });
    const first = await supervisor.apply(desired);
    await waitFor(() => supervisor.status().ready, { description: 'the first cloudflared ready' });
    const since = Date.now() - 1000;
    const rotated = { ...desired, token: standaloneTunnelToken() };
    const second = await supervisor.apply(rotated);
    // apply returns once the predecessor is gone: by then the successor answers /ready.
    expect(second.ready).toBe(true);
    expect((await managed(agentId)).map((c) => c.Id)).toEqual([second.containerId]);
    const overlapped = await waitFor(
      async () => {
        const events = await lifecycle(agentId, since);
        return events.includes(`die:${first.containerId}`) ? events : undefined;
      },
      { description: 'the predecessor to die' },
    );
    expect(overlapped.indexOf(`start:${second.containerId}`)).toBeLessThan(
      overlapped.indexOf(`die:${first.containerId}`),
    );
    // The successor is the one probed and reported: its own release, not its predecessor's.
    await waitFor(() => supervisor.status().version === 'standin', { description: 'the release reported' });
    const upgraded = await supervisor.apply({ ...rotated, image: TEST_CLOUDFLARED_NEXT_IMAGE });
    expect(upgraded).toMatchObject({ ready: true, image: TEST_CLOUDFLARED_NEXT_IMAGE });
    await waitFor(() => supervisor.status().version === TEST_CLOUDFLARED_NEXT_VERSION, {
      description: `the release ${TEST_CLOUDFLARED_NEXT_VERSION} reported`,
    });
    await supervisor.stop();

    // Without overlap the predecessor stops before its successor starts.
    const plain = supervise({ overlapMs: 0 });
    const current = { ...rotated, image: TEST_CLOUDFLARED_NEXT_IMAGE };
    expect((await plain.apply(current)).containerId).toBe(upgraded.containerId);
    const sinceThird = Date.now() - 1000;
    const third = await plain.apply({ ...current, token: standaloneTunnelToken() });
    const stopFirst = await waitFor(
      async () => {
        const events = await lifecycle(agentId, sinceThird);
        return events.includes(`start:${third.containerId}`) ? events : undefined;
      },
      { description: 'the successor to start' },
    );
    expect(stopFirst.indexOf(`die:${upgraded.containerId}`)).toBeGreaterThanOrEqual(0);
    expect(stopFirst.indexOf(`die:${upgraded.containerId}`)).toBeLessThan(
      stopFirst.indexOf(`start:${third.containerId}`),
    );
  });

  /**
   * An agent stopped in the middle of an overlapped replacement. A successor that never becomes
   * ready holds the overlap open for as long as the test needs; the overlap itself is far longer
   * than the test, so only the stop ends it.
   */
  async function stopDuringOverlap({ agentId, desired, supervise }: ReturnType<typeof setup>) {
    const before = supervise({ overlapMs: 3_600_000 });
    const first = await before.apply(desired);
    await waitFor(() => before.status().ready, { description: 'the first cloudflared ready' });
    const replacing = before.apply({ ...desired, image: TEST_CLOUDFLARED_NEVER_READY_IMAGE });
    const successor = await waitFor(
      async () => {
        const containers = await managed(agentId);
        const aside = containers.find((c) => c.Id === first.containerId && c.Names[0]?.endsWith('-previous'));
        const next = containers.find((c) => c.Id !== first.containerId && c.State === 'running');
        return aside && next ? next : undefined;
      },
      { description: 'the overlap: the predecessor set aside beside its running successor' },
    );
    // The agent stops: at once, leaving the one ready connector serving.
    await before.stop();
    await replacing;
    expect((await docker.getContainer(first.containerId!).inspect()).State.Running).toBe(true);
    return { predecessor: first.containerId!, successor: successor.Id };
  }

  /**
   * The next agent's cloudflared is ready and, once the leftover predecessor is gone, alone; it
   * started before the predecessor died.
   */
  async function expectRetiredAfter(agentId: string, since: number, predecessor: string, current: string) {
    await waitFor(async () => (await managed(agentId)).every((c) => c.Id !== predecessor), {
      description: 'the leftover predecessor to be removed',
    });
    expect((await managed(agentId)).map((c) => c.Id)).toEqual([current]);
    const events = await waitFor(
      async () => {
        const seen = await lifecycle(agentId, since);
        return seen.includes(`die:${predecessor}`) ? seen : undefined;
      },
      { description: 'the leftover predecessor to die' },
    );
    expect(events.indexOf(`start:${current}`)).toBeGreaterThanOrEqual(0);
    expect(events.indexOf(`start:${current}`)).toBeLessThan(events.indexOf(`die:${predecessor}`));
    return events;
  }

  it('an overlap cut short by a stop: the predecessor serves on, and the next start removes it once its cloudflared is ready', async () => {
    const context = setup();
    const { predecessor, successor } = await stopDuringOverlap(context);

    // The next agent finds the leftover by its labels and name, and stops it only once its own
    // cloudflared is ready (the master sends a working configuration, say).
    const since = Date.now() - 1000;
    const after = context.supervise({ overlapMs: 3_600_000 });
    // apply returns at once: an agent restoring cloudflared does not wait for the leftover.
    const fixed = await after.apply({ ...context.desired, token: standaloneTunnelToken() });
    await waitFor(() => after.status().ready, { description: 'the next cloudflared ready' });
    const events = await expectRetiredAfter(context.agentId, since, predecessor, fixed.containerId!);
    expect(events).toContain(`die:${successor}`);
  });

  it('a leftover predecessor that is the only connector serves until a cloudflared beside it is ready', async () => {
    const context = setup();
    const { predecessor, successor } = await stopDuringOverlap(context);
    // The successor went away while no agent ran: the leftover is the host's one connector.
    await docker.getContainer(successor).remove({ force: true });

    // Off the metrics network it cannot be probed, so even on its own configuration it is not
    // taken back: a twin starts beside it and it stops once the twin is ready.
    const since = Date.now() - 1000;
    const after = context.supervise({ overlapMs: 3_600_000 });
    const status = await after.apply(context.desired);
    expect(status.containerId).not.toBe(predecessor);
    await waitFor(() => after.status().ready, { description: 'the twin ready' });
    await expectRetiredAfter(context.agentId, since, predecessor, status.containerId!);
  });

  it('removes the container when the desired state is stopped', async () => {
    const { agentId, desired, supervise } = setup();
    const supervisor = supervise();
    await supervisor.apply(desired);
    const status = await supervisor.apply({ ...desired, state: 'stopped' });
    expect(status).toMatchObject({ state: 'stopped', ready: false });
    expect(status.containerId).toBeUndefined();
    expect(await managed(agentId)).toEqual([]);
  });

  it('leaves cloudflared running when the agent stops and adopts it on the next start', async () => {
    const { agentId, desired, supervise } = setup();
    const before = supervise();
    const { containerId } = await before.apply(desired);
    await before.stop();
    expect((await docker.getContainer(containerId!).inspect()).State.Running).toBe(true);

    const after = supervise();
    const adopted = await after.apply(desired);
    expect(adopted.containerId).toBe(containerId);
    // A third agent process started while the second still runs: still a single container.
    const overlapping = supervise();
    expect((await overlapping.apply(desired)).containerId).toBe(containerId);
    expect((await managed(agentId)).map((c) => c.Id)).toEqual([containerId]);
  });

  it('keeps one of several leftover cloudflared containers and removes the rest', async () => {
    const { agentId, desired, supervise } = setup();
    const first = supervise();
    const { containerId } = await first.apply(desired);
    await first.stop();
    const inspect = await docker.getContainer(containerId!).inspect();
    for (let i = 0; i < 2; i++) {
      await docker.createContainer({
        name: uniqueName('tf-cfd-leftover'),
        Image: CLOUDFLARED_IMAGE,
        Cmd: inspect.Config.Cmd,
        Env: inspect.Config.Env,
        Labels: inspect.Config.Labels,
        HostConfig: { Init: true },
      });
    }
    expect(await managed(agentId)).toHaveLength(3);

    const second = supervise();
    const status = await second.apply(desired);
    expect(status.containerId).toBe(containerId);
    expect((await managed(agentId)).map((c) => c.Id)).toEqual([containerId]);
  });

  it('reports an image that cannot be pulled, and starts once it is there', async () => {
    const { agentId, desired, supervise } = setup();
    const supervisor = supervise();
    // Nothing listens on port 1: the pull fails at once instead of waiting for a registry.
    const image = `127.0.0.1:1/tunnelfleet/${uniqueName('missing-cloudflared')}:latest`;
    await expect(supervisor.apply({ ...desired, image })).rejects.toBeInstanceOf(
      CloudflaredImageUnavailableError,
    );
    const status = supervisor.status();
    expect(status.state).toBe('missing');
    expect(status.ready).toBe(false);
    expect(status.lastError).toContain(image);
    expect(await managed(agentId)).toEqual([]);

    // The supervisor keeps retrying in the background: an image that appears later is used.
    const [repo, tag] = [image.slice(0, image.lastIndexOf(':')), 'latest'];
    await docker.getImage(CLOUDFLARED_IMAGE).tag({ repo, tag });
    try {
      await waitFor(() => supervisor.status().ready, {
        description: 'cloudflared started from the late image',
      });
      expect(supervisor.status()).toMatchObject({ state: 'running', restarts: 0 });
      expect(supervisor.status().lastError).toBeUndefined();
    } finally {
      await supervisor.stop({ removeContainer: true });
      await docker.getImage(image).remove();
    }
  });
});
