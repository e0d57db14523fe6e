import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import {
  expectConverged,
  publishLabels,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  waitPublished,
  waitRouteStatus,
} from './support.js';

// Host B's engine is this file's own (docker7): restarting it disturbs no other test.
const fleet = useFleet({ secondEngine: 'docker7' });

describe('a Docker daemon restarted under its agent', { timeout: 180_000 }, () => {
  it('misses no change: cloudflared returns, restarted containers stay published, stopped ones leave', async () => {
    const { b, emulator, secondEngine } = fleet();
    const tunnelB = await tunnelIdOf(fleet(), b);
    const agentB = await b.agentId();
    const survivor = uniqueHostname('always');
    const casualty = uniqueHostname('once');
    const kept = await b.runContainer({ labels: publishLabels(survivor) });
    await kept.container.update({ RestartPolicy: { Name: 'always' } });
    await b.runContainer({ labels: publishLabels(casualty) });
    await Promise.all([waitPublished(fleet(), b, survivor), waitPublished(fleet(), b, casualty)]);

    // dockerd stops every container with it; only the one with a restart policy comes back.
    await secondEngine.restart();

    await waitFor(async () => (await b.cloudflared()).filter((c) => c.State === 'running').length === 1, {
      description: "host B's cloudflared running again after the daemon restart",
      timeoutMs: 60_000,
    });
    await waitFor(() => emulator.tunnelConnections(tunnelB).length > 0, {
      description: "host B's cloudflared back on the edge",
      timeoutMs: 60_000,
    });
    await waitRouteStatus(fleet(), casualty, agentB, 'pending_deletion');
    await waitRouteStatus(fleet(), survivor, agentB, 'active');
    expect((await kept.container.inspect()).State.Running).toBe(true);

    // The agent watches the new daemon: a container started now is published.
    const newcomer = uniqueHostname('after-restart');
    await b.runContainer({ labels: publishLabels(newcomer) });
    await waitPublished(fleet(), b, newcomer);
    await expectConverged(fleet());
  });
});
