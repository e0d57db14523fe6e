import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RolloutView } from '@tunnelfleet/common';
import { startRedisServer, waitFor } from '@tunnelfleet/test';
import { afterEach, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';
import { type SimulatedHost, simulateHost } from '../../test/simulated-cloudflared-host.js';

const OLD = 'cloudflare/cloudflared:latest';
const GOOD = 'example/cloudflared:good';
const BROKEN = 'example/cloudflared:broken';
const runs = (image: string) => image !== BROKEN;

const fixtures: MasterFixture[] = [];
afterEach(async () => {
  for (const fx of fixtures.splice(0)) await fx.close();
});

async function start(options: Parameters<typeof startMasterFixture>[0] = {}) {
  const fx = await startMasterFixture({
    reportIntervalSeconds: 5,
    ...options,
    env: { ROLLOUT_CHECK_INTERVAL_MS: '200', ...options.env },
  });
  fixtures.push(fx);
  return fx;
}

/** The hosts play their part (commands, edge, heartbeats) until `done` holds for the rollout. */
async function driveUntil(
  fx: MasterFixture,
  hosts: SimulatedHost[],
  rolloutId: string,
  done: (rollout: RolloutView) => boolean,
): Promise<RolloutView> {
  return waitFor(
    async () => {
      for (const host of hosts) await host.step();
      const rollout = (await fx.admin('GET', `/cloudflared/rollouts/${rolloutId}`)).body
        .rollout as RolloutView;
      return done(rollout) ? rollout : undefined;
    },
    { description: `rollout ${rolloutId}`, timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function fleetOf(fx: MasterFixture, names: string[]): Promise<SimulatedHost[]> {
  const hosts: SimulatedHost[] = [];
  for (const name of names) hosts.push(await simulateHost(fx, name, runs));
  for (const host of hosts) await host.step();
  return hosts;
}

const stateOf = (rollout: RolloutView, host: SimulatedHost) =>
  rollout.hosts.find((part) => part.agentId === host.agentId);

describe('rolling upgrades of the fleet cloudflared image', () => {
  it('a new fleet image goes canary first, then wave by wave, each on once the last is ready and connected', async () => {
    const fx = await start();
    const hosts = await fleetOf(fx, ['host-a', 'host-b', 'host-c', 'host-d']);
    const [a, b, c, d] = hosts as [SimulatedHost, SimulatedHost, SimulatedHost, SimulatedHost];

    const answer = await fx.admin('PUT', '/cloudflared', { image: GOOD });
    expect(answer.status).toBe(200);
    const started = answer.body.rollout as RolloutView;
    expect(started).toMatchObject({ status: 'running', image: GOOD, previousImage: OLD, waves: 3 });
    expect(Object.fromEntries(started.hosts.map((host) => [host.agentId, host.wave]))).toEqual({
      [a.agentId]: 0,
      [b.agentId]: 1,
      [c.agentId]: 1,
      [d.agentId]: 2,
    });

    // While the canary is upgrading nobody else has been sent the new image.
    const canaryOnly = await driveUntil(fx, hosts, started.id, (r) => stateOf(r, a)?.state === 'ready');
    expect(canaryOnly.status).toBe('running');
    for (const host of [b, c, d]) expect(host.imagesSent).not.toContain(GOOD);

    const done = await driveUntil(fx, hosts, started.id, (r) => r.status !== 'running');
    expect(done.status).toBe('succeeded');
    expect(done.hosts.every((host) => host.state === 'ready')).toBe(true);
    for (const host of hosts) expect(host.image).toBe(GOOD);
    expect((await fx.admin('GET', '/cloudflared')).body.config.image).toBe(GOOD);

    const audit = (await fx.admin('GET', `/audit?target=${started.id}`)).body.entries as { action: string }[];
    expect(audit.map((entry) => entry.action).sort()).toEqual([
      'cloudflared.rollout.start',
      'cloudflared.rollout.succeed',
      'cloudflared.rollout.wave',
      'cloudflared.rollout.wave',
      'cloudflared.rollout.wave',
    ]);
  });

  it('a canary that never becomes ready halts the rollout: it goes back, nobody else is touched, an alert is raised', async () => {
    const fx = await start();
    const hosts = await fleetOf(fx, ['host-a', 'host-b', 'host-c']);
    const [a, b, c] = hosts as [SimulatedHost, SimulatedHost, SimulatedHost];

    const answer = await fx.admin('POST', '/cloudflared/rollouts', {
      image: BROKEN,
      canary: [b.agentId],
      waveTimeoutSeconds: 5,
    });
    expect(answer.status).toBe(201);
    const rollout = answer.body.rollout as RolloutView;
    expect(stateOf(rollout, b)?.wave).toBe(0);

    const halted = await driveUntil(
      fx,
      hosts,
      rollout.id,
      (r) => r.status === 'halted' && stateOf(r, b)?.state === 'rolled_back',
    );
    expect(halted.haltReason).toContain(b.agentId);
    expect(stateOf(halted, b)?.detail).toContain('not ready and connected within 5s');
    expect(stateOf(halted, a)?.state).toBe('pending');
    // The canary was sent the broken image, then the previous one again; the others never saw it.
    await b.step();
    expect(b.imagesSent.slice(-2)).toEqual([BROKEN, OLD]);
    expect(b.image).toBe(OLD);
    for (const host of [a, c]) expect(host.imagesSent).not.toContain(BROKEN);
    expect((await fx.admin('GET', '/cloudflared')).body.config.image).toBeNull();

    const alerts = fx.master.db
      .prepare("SELECT data FROM alert_events WHERE type = 'rollout.halted'")
      .all() as { data: string }[];
    expect(alerts.map((row) => JSON.parse(row.data))).toEqual([
      expect.objectContaining({ rolloutId: rollout.id, image: BROKEN, rolledBack: [b.agentId] }),
    ]);
    const audit = (await fx.admin('GET', `/audit?target=${rollout.id}`)).body.entries as { action: string }[];
    expect(audit.map((entry) => entry.action)).toContain('cloudflared.rollout.halt');
  });

  it('a host paused before its wave sits the rollout out, and the rollout still succeeds', async () => {
    const fx = await start();
    const hosts = await fleetOf(fx, ['host-a', 'host-b']);
    const [a, b] = hosts as [SimulatedHost, SimulatedHost];
    const rollout = (await fx.admin('POST', '/cloudflared/rollouts', { image: GOOD, canary: [a.agentId] }))
      .body.rollout as RolloutView;
    expect((await fx.admin('POST', `/agents/${b.agentId}/pause`)).status).toBe(200);
    const done = await driveUntil(fx, hosts, rollout.id, (r) => r.status !== 'running');
    expect(done.status).toBe('succeeded');
    expect(stateOf(done, b)).toMatchObject({ state: 'skipped', detail: 'no longer approved and running' });
    expect(b.imagesSent).not.toContain(GOOD);
  });

  it('a host that claims ready with a connector Cloudflare does not know fails its wave', async () => {
    const fx = await start();
    const hosts = await fleetOf(fx, ['host-a', 'host-b']);
    const [a] = hosts as [SimulatedHost];
    a.lie(GOOD);
    const answer = await fx.admin('POST', '/cloudflared/rollouts', { image: GOOD, waveTimeoutSeconds: 5 });
    const rollout = answer.body.rollout as RolloutView;
    const halted = await driveUntil(fx, hosts, rollout.id, (r) => r.status === 'halted');
    expect(stateOf(halted, a)?.detail).toMatch(/connector .* is not connected at Cloudflare/);
    expect((await fx.admin('GET', '/cloudflared')).body.config.image).toBeNull();
  });

  it('refuses a second rollout while one runs, an unknown canary, and an abort of a finished one', async () => {
    const fx = await start();
    const hosts = await fleetOf(fx, ['host-a', 'host-b']);
    const unknown = await fx.admin('POST', '/cloudflared/rollouts', {
      image: GOOD,
      canary: ['ag_0000000000000000'],
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('ag_0000000000000000');
    for (const hostile of [
      { image: 'not an image!' },
      { image: GOOD, waveSize: 0 },
      { image: GOOD, waveTimeoutSeconds: 1e9 },
      { image: GOOD, canary: ['ag_x; DROP TABLE agents'] },
      { image: GOOD, status: 'succeeded' },
    ]) {
      const refused = await fx.admin('POST', '/cloudflared/rollouts', hostile);
      expect(refused.status, JSON.stringify(hostile)).toBe(400);
    }
    expect((await fx.admin('GET', '/cloudflared/rollouts')).body.rollouts).toEqual([]);
    const same = await fx.admin('POST', '/cloudflared/rollouts', { image: OLD });
    expect(same.status).toBe(409);
    const oneHost = await fx.admin('PUT', `/agents/${hosts[0]!.agentId}/cloudflared`, {
      image: GOOD,
      rollout: {},
    });
    expect(oneHost.status).toBe(400);
    expect(oneHost.body.error.message).toContain('rollout');

    const first = (await fx.admin('POST', '/cloudflared/rollouts', { image: GOOD })).body
      .rollout as RolloutView;
    const second = await fx.admin('PUT', '/cloudflared', { image: BROKEN });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain(first.id);

    const aborted = await fx.admin('POST', `/cloudflared/rollouts/${first.id}/abort`);
    expect(aborted.status).toBe(200);
    expect(aborted.body.rollout).toMatchObject({ status: 'halted', haltReason: 'aborted by admin' });
    const again = await fx.admin('POST', `/cloudflared/rollouts/${first.id}/abort`);
    expect(again.status).toBe(409);
    for (const host of hosts) await host.step();
    for (const host of hosts) expect(host.image).toBe(OLD);
    expect((await fx.admin('GET', '/cloudflared/rollouts/ro_ffffffffffffffff')).status).toBe(404);
  });

  it('a rollout survives a master restart: the new master keeps the wave deadline and halts it', async () => {
    const redis = await startRedisServer();
    const dataDir = mkdtempSync(join(tmpdir(), 'tunnelfleet-rollout-'));
    try {
      const first = await start({ redis, dataDir });
      const hosts = await fleetOf(first, ['host-a', 'host-b']);
      const rollout = (
        await first.admin('POST', '/cloudflared/rollouts', { image: BROKEN, waveTimeoutSeconds: 5 })
      ).body.rollout as RolloutView;
      await driveUntil(first, hosts, rollout.id, (r) => r.currentWave === 0);
      fixtures.splice(fixtures.indexOf(first), 1);
      await first.close();

      const second = await start({ redis, dataDir });
      const listed = (await second.admin('GET', '/cloudflared/rollouts')).body.rollouts as RolloutView[];
      expect(listed.map((r) => r.id)).toEqual([rollout.id]);
      const halted = await waitFor(
        async () => {
          const view = (await second.admin('GET', `/cloudflared/rollouts/${rollout.id}`)).body
            .rollout as RolloutView;
          // Halted first, then the previous image is sent and the host counts as rolled back.
          return view.status === 'halted' && view.hosts.every((host) => host.state !== 'rolling_back')
            ? view
            : undefined;
        },
        {
          description: 'the restarted master to halt the rollout and send the previous image',
          timeoutMs: 30_000,
        },
      );
      expect(halted.hosts.filter((host) => host.state === 'rolled_back')).toHaveLength(1);
    } finally {
      for (const fx of fixtures.splice(0)) await fx.close();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
