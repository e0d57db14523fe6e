import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import {
  CLOUDFLARED_IMAGE,
  TEST_CLOUDFLARED_NEVER_READY_IMAGE,
  TEST_CLOUDFLARED_NEXT_IMAGE,
  TEST_CLOUDFLARED_NEXT_VERSION,
} from '../harness/test-images.js';
import { waitFor } from '../harness/wait-for.js';
import { startWebhookReceiver } from '../harness/webhook-receiver.js';
import type { Fleet, FleetHost } from '../system/fleet.js';
import { CONVERGE_TIMEOUT_MS, tunnelIdOf, useFleet } from './support.js';

const fleet = useFleet({ secondEngine: 'docker23', masterEnv: { ROLLOUT_CHECK_INTERVAL_MS: '500' } });

async function runningCloudflared(host: FleetHost): Promise<Docker.ContainerInfo | undefined> {
  const running = (await host.cloudflared()).filter((container) => container.State === 'running');
  return running.length === 1 ? running[0] : undefined;
}

/** The host's one running cloudflared on `image`, once its tunnel has a connector at the emulator. */
async function waitServing(f: Fleet, host: FleetHost, image: string): Promise<Docker.ContainerInfo> {
  const tunnelId = await tunnelIdOf(f, host);
  const container = await waitFor(
    async () => {
      const found = await runningCloudflared(host);
      return found?.Image === image ? found : undefined;
    },
    { description: `${host.name}'s cloudflared on ${image}`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
  await waitFor(() => f.emulator.tunnelConnections(tunnelId).length > 0, {
    description: `${host.name}'s cloudflared connected on ${image}`,
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
  return container;
}

async function waitFinished(f: Fleet, rolloutId: string) {
  return waitFor(
    async () => {
      const rollout = await f.admin.rollout(rolloutId);
      if (rollout.status !== 'running') return rollout;
      // Should it time out, the error says what the rollout waits for and what each host runs.
      const hosts = rollout.hosts.map((host) => `${host.agentId} ${host.state}: ${host.detail}`);
      throw new Error(
        `still running (${hosts.join('; ')}); ${(await Promise.all([f.a, f.b].map((host) => hostSeen(f, host)))).join('; ')}`,
      );
    },
    { description: `rollout ${rolloutId} to finish`, timeoutMs: 2 * CONVERGE_TIMEOUT_MS },
  );
}

/** What a host runs, and who is connected to its tunnel at the emulator: for a timeout's message. */
async function hostSeen(f: Fleet, host: FleetHost): Promise<string> {
  const containers = (await host.cloudflared()).map((c) => `${c.Image} ${c.State}`);
  const connectors = f.emulator.tunnelConnections(await tunnelIdOf(f, host)).map((c) => c.clientId);
  return `${host.name} (${await host.agentId()}) runs [${containers.join(', ')}], connected [${connectors.join(', ')}]`;
}

describe('rolling out a new fleet cloudflared image', { timeout: 300_000 }, () => {
  it('an image that never becomes ready halts the rollout at the canary, which returns to the previous image', async () => {
    const f = fleet();
    const { a, b, admin } = f;
    const aBefore = await waitServing(f, a, CLOUDFLARED_IMAGE);
    await waitServing(f, b, CLOUDFLARED_IMAGE);
    const canary = await b.agentId();
    // The operator's receivers: a generic signed one and a Slack one, both for halted rollouts.
    const receiver = await startWebhookReceiver();
    for (const format of ['generic', 'slack'] as const) {
      const created = await admin.request('POST', '/alerts/receivers', {
        name: `rollouts-${format}`,
        url: receiver.url(`/${format}`),
        format,
        events: ['rollout.halted'],
      });
      expect(created.status).toBe(201);
    }

    const rollout = await admin.startRollout({
      image: TEST_CLOUDFLARED_NEVER_READY_IMAGE,
      canary: [canary],
      waveTimeoutSeconds: 20,
    });
    // The canary really runs the broken image before the rollout gives up on it.
    await waitFor(async () => (await runningCloudflared(b))?.Image === TEST_CLOUDFLARED_NEVER_READY_IMAGE, {
      description: 'the canary to run the never-ready image',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });

    const halted = await waitFinished(f, rollout.id);
    expect(halted.status).toBe('halted');
    expect(halted.haltReason).toContain(canary);
    const canaryPart = halted.hosts.find((host) => host.agentId === canary);
    expect(canaryPart).toMatchObject({ wave: 0 });
    expect(canaryPart?.detail).toContain('not ready and connected within 20s');

    // Back on the previous image and connected; the other host was never touched.
    await waitServing(f, b, CLOUDFLARED_IMAGE);
    expect((await runningCloudflared(a))?.Id).toBe(aBefore.Id);
    expect((await admin.rollout(rollout.id)).hosts.find((host) => host.agentId === canary)?.state).toBe(
      'rolled_back',
    );
    const fleetConfig = await admin.request('GET', '/cloudflared');
    expect((fleetConfig.body as { config: { image: string | null } }).config.image).toBeNull();
    const audit = await admin.audit({ target: rollout.id });
    expect(audit.entries.map((entry) => entry.action)).toEqual(
      expect.arrayContaining([
        'cloudflared.rollout.start',
        'cloudflared.rollout.wave',
        'cloudflared.rollout.halt',
      ]),
    );

    // The halt reached the operator's receivers, once each, naming the rollout and what went back.
    try {
      const [generic] = await receiver.waitForCount('/generic', 1);
      expect(generic!.headers['x-tunnelfleet-event']).toBe('rollout.halted');
      expect(JSON.parse(generic!.body)).toMatchObject({
        type: 'rollout.halted',
        data: {
          rolloutId: rollout.id,
          image: TEST_CLOUDFLARED_NEVER_READY_IMAGE,
          previousImage: CLOUDFLARED_IMAGE,
          rolledBack: [canary],
        },
      });
      const [slack] = await receiver.waitForCount('/slack', 1);
      expect(JSON.parse(slack!.body).text).toContain(rollout.id);
      expect(receiver.received('/generic')).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('a good image reaches every host, canary first, and each reports its release', async () => {
    const f = fleet();
    const { a, b, admin } = f;
    await waitServing(f, a, CLOUDFLARED_IMAGE);
    await waitServing(f, b, CLOUDFLARED_IMAGE);

    const answer = await admin.setCloudflared({
      image: TEST_CLOUDFLARED_NEXT_IMAGE,
      rollout: { waveSize: 1 },
    });
    expect(answer.rollout).toMatchObject({ status: 'running', image: TEST_CLOUDFLARED_NEXT_IMAGE, waves: 2 });

    const done = await waitFinished(f, answer.rollout!.id);
    expect(done.status).toBe('succeeded');
    expect(done.hosts.map((host) => host.state)).toEqual(['ready', 'ready']);
    for (const host of [a, b]) {
      await waitServing(f, host, TEST_CLOUDFLARED_NEXT_IMAGE);
      const agentId = await host.agentId();
      // What the operator sees: the release each host runs, as its next heartbeat reports it.
      const view = await waitFor(
        async () => {
          const agent = (await admin.agents()).find((candidate) => candidate.id === agentId);
          return agent?.cloudflared?.version === TEST_CLOUDFLARED_NEXT_VERSION ? agent : undefined;
        },
        { description: `${host.name} to report cloudflared ${TEST_CLOUDFLARED_NEXT_VERSION}` },
      );
      expect(view.cloudflared).toMatchObject({
        image: TEST_CLOUDFLARED_NEXT_IMAGE,
        version: TEST_CLOUDFLARED_NEXT_VERSION,
      });
    }
    // The canary (wave 0) was ready before the second wave was sent anything.
    const [first, second] = [...done.hosts].sort((x, y) => x.wave! - y.wave!);
    const audit = await admin.audit({ target: done.id });
    const waves = audit.entries.filter((entry) => entry.action === 'cloudflared.rollout.wave');
    expect(waves.map((entry) => entry.details.agents)).toEqual(
      expect.arrayContaining([[first!.agentId], [second!.agentId]]),
    );
    const secondWave = waves.find((entry) => entry.details.wave === 1);
    expect(Date.parse(first!.updatedAt)).toBeLessThanOrEqual(Date.parse(secondWave!.at));
  });
});
