import { randomUUID } from 'node:crypto';
import {
  CLOUDFLARED_IMAGE,
  connectDockerEngine,
  ensureTestImages,
  signalDockerd,
  startDockerd,
  TEST_WEB_IMAGE,
  uniqueName,
  waitFor,
} from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standaloneTunnelToken } from '../../test/standalone-tunnel-token.js';
import { watchWithView } from '../../test/watch-with-view.js';
import { cloudflaredMetricsNetwork, managedLabelFilter } from '../cloudflared/container-spec.js';
import { type CloudflaredSupervisor, createCloudflaredSupervisor } from '../cloudflared/supervisor.js';
import type { ContainerWatcher } from './container-watcher.js';

// Restarts the machine's Docker engine: runs in the `disruptive` project, alone.
let docker: Docker;
let watcher: ContainerWatcher | undefined;
let supervisor: CloudflaredSupervisor | undefined;
const containerIds: string[] = [];
const agentId = uniqueName('agent-restart');
const network = uniqueName('tf-restart-net');

beforeAll(async () => {
  docker = await connectDockerEngine();
  await ensureTestImages(docker);
});

afterAll(async () => {
  await watcher?.stop();
  await supervisor?.stop({ removeContainer: true });
  await Promise.all(
    containerIds.map((id) =>
      docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  );
  for (const name of [network, cloudflaredMetricsNetwork(network)])
    await docker
      .getNetwork(name)
      .remove()
      .catch(() => {});
});

async function createLabelled(start: boolean) {
  const container = await docker.createContainer({
    name: uniqueName('tf-restart'),
    Image: TEST_WEB_IMAGE,
    Labels: { 'tunnelfleet.enable': 'true', 'tunnelfleet.hostname': 'restart.example.com' },
    HostConfig: { Init: true },
  });
  containerIds.push(container.id);
  if (start) await container.start();
  return container;
}

describe('a Docker daemon restart', () => {
  // One test, so that the engine is restarted only once for both the watcher and the supervisor.
  it('is followed by a relist that misses no change, and by cloudflared back and ready', async () => {
    const watched = watchWithView({
      docker,
      logger: pino({ level: 'silent' }),
      reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
    });
    const { view, resyncs } = watched;
    watcher = watched.watcher;
    supervisor = createCloudflaredSupervisor({
      docker,
      logger: pino({ level: 'silent' }),
      agentId,
      network,
      metricsNetwork: cloudflaredMetricsNetwork(network),
      image: CLOUDFLARED_IMAGE,
      metricsPort: 20241,
      checkIntervalMs: 250,
      restartBackoff: { initialDelayMs: 200, maxDelayMs: 2_000 },
    });
    const token = standaloneTunnelToken();
    await supervisor.apply({ tunnelId: randomUUID(), tunnelName: 'restart', token, state: 'running' });
    await waitFor(() => supervisor?.status().ready, { description: 'cloudflared ready before the restart' });

    const survivor = await createLabelled(true);
    const doomed = await createLabelled(false);
    await waitFor(() => view.get(survivor.id)?.state === 'running' && view.has(doomed.id), {
      description: 'the watcher to see both containers',
    });

    const waitUntilGone = await signalDockerd('SIGKILL');
    try {
      await waitUntilGone();
      await waitFor(() => !watcher?.dockerReachable, { description: 'the watcher to notice the outage' });
    } finally {
      await startDockerd(docker);
    }
    // Made as soon as the engine answers: whether the watcher catches them as events or in its
    // relist depends on its backoff, and both paths must end in the same view.
    await doomed.remove({ force: true });
    const newcomer = await createLabelled(true);

    await waitFor(() => resyncs.includes('reconnect'), {
      description: 'a resync after the reconnection',
      timeoutMs: 20_000,
    });
    await waitFor(() => !view.has(doomed.id) && view.get(newcomer.id)?.state === 'running', {
      description: 'the removal and the new container in the view',
      timeoutMs: 20_000,
    });
    // Without live-restore the engine stops its containers when it comes back from a crash: a
    // change made during the outage that no event announced.
    const survivorState = (await survivor.inspect()).State.Status;
    expect(survivorState).toBe('exited');
    await waitFor(() => view.get(survivor.id)?.state === survivorState, {
      description: `the survivor reported as ${survivorState}`,
      timeoutMs: 20_000,
    });
    expect(watcher.dockerReachable).toBe(true);

    await waitFor(() => supervisor?.status().restarts && supervisor.status().ready, {
      description: 'cloudflared restarted and ready after the engine restart',
      timeoutMs: 20_000,
    });
    const managed = await docker.listContainers({ filters: { label: managedLabelFilter(agentId) } });
    expect(managed.map((c) => c.Id)).toEqual([supervisor.status().containerId]);
  });
});
