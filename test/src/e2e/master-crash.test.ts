import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import { seedForeignObjects } from './foreign-objects.js';
import { cloudView, expectConverged, rulesFor, tunnelIdOf, useFleet } from './support.js';

const fleet = useFleet({ secondEngine: 'docker5' });

const CONTAINERS = 20;
const ROUTES_PER_CONTAINER = 10;
const CRASHES = 10;

/** One container publishing ten named routes: 20 of them make the 200-route burst. */
function burstLabels(container: number): Record<string, string> {
  const labels: Record<string, string> = { 'tunnelfleet.enable': 'true' };
  for (let route = 0; route < ROUTES_PER_CONTAINER; route++) {
    labels[`tunnelfleet.r${route}.hostname`] = `burst-${container}-${route}.example.com`;
    labels[`tunnelfleet.r${route}.service`] = `http://burst-${container}:${8000 + route}`;
  }
  return labels;
}

describe('the master killed with kill -9 during a 200-route burst', { timeout: 300_000 }, () => {
  it('converges after ten crashes and a restart: every route once, nothing foreign touched', async () => {
    const { b, master, emulator } = fleet();
    const foreign = seedForeignObjects(fleet());
    const tunnelB = await tunnelIdOf(fleet(), b);

    // The burst runs on host B (an engine of its own), while the master is killed at random points.
    const burst = (async () => {
      for (let i = 0; i < CONTAINERS; i += 4) {
        await Promise.all(
          Array.from({ length: Math.min(4, CONTAINERS - i) }, (_, k) =>
            b.runContainer({ labels: burstLabels(i + k), name: `burst-${i + k}-${process.pid}` }),
          ),
        );
      }
    })();
    for (let crash = 0; crash < CRASHES; crash++) {
      // A random point: anywhere from the intake of a report to the middle of a Cloudflare sync.
      await delay(Math.floor(Math.random() * 1_500));
      await master.kill9();
      await master.start();
    }
    await burst;

    const wanted = Array.from({ length: CONTAINERS * ROUTES_PER_CONTAINER }, (_, n) => {
      const container = Math.floor(n / ROUTES_PER_CONTAINER);
      return `burst-${container}-${n % ROUTES_PER_CONTAINER}.example.com`;
    });
    await waitFor(
      async () => {
        const active = (await fleet().admin.routes({ agentId: await b.agentId(), status: 'active' })).length;
        return active === wanted.length;
      },
      { description: `all ${wanted.length} burst routes active at the master`, timeoutMs: 120_000 },
    );
    await expectConverged(fleet(), { timeoutMs: 120_000 });

    const view = cloudView(fleet());
    for (const hostname of wanted) {
      expect(
        view.records.filter((r) => r.name === hostname),
        hostname,
      ).toHaveLength(1);
      expect(
        rulesFor(view, hostname).map((r) => r.tunnelId),
        hostname,
      ).toEqual([tunnelB]);
    }
    expect(foreign.unchanged(), JSON.stringify(foreign.describe())).toBe(true);
    // No command lost: both hosts' cloudflared still run their tunnel on the edge.
    expect(emulator.tunnelConnections(tunnelB).length).toBeGreaterThan(0);
    expect(emulator.tunnelConnections(await tunnelIdOf(fleet(), fleet().a)).length).toBeGreaterThan(0);

    // Converged means settled: a full reconcile now finds nothing to write.
    const reconciles = async () => (await master.logs()).split('full reconcile done').length;
    const before = await reconciles();
    emulator.clearCalls();
    await fleet().admin.reconcile();
    await waitFor(async () => (await reconciles()) > before, {
      description: 'the requested full reconcile to finish',
      timeoutMs: 60_000,
    });
    expect(emulator.writes().filter((w) => w.path.includes(tunnelB))).toEqual([]);
  });
});
