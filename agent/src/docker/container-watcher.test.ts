import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_WEB_IMAGE, uniqueName, waitFor } from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestDocker, removeLeftovers } from '../../test/test-docker.js';
import { watchWithView } from '../../test/watch-with-view.js';
import { loadSleepingContainers, type SleepingContainers } from '../state/sleeping-containers.js';
import type { ContainerWatcher } from './container-watcher.js';

const logger = pino({ level: 'silent' });

let docker: Docker;
const containerIds: string[] = [];
const networkIds: string[] = [];
const watchers: ContainerWatcher[] = [];

beforeAll(async () => {
  docker = await connectTestDocker();
});

afterAll(async () => {
  await Promise.all(watchers.map((watcher) => watcher.stop()));
  await removeLeftovers(docker, { containers: containerIds, networks: networkIds });
});

function watch(watchLogger = logger, sleeping?: SleepingContainers) {
  const watched = watchWithView({
    docker,
    logger: watchLogger,
    relistIntervalMs: 60_000,
    ...(sleeping ? { sleeping } : {}),
  });
  watchers.push(watched.watcher);
  return watched;
}

async function createContainer(
  labels: Record<string, string>,
  extra: Partial<Docker.ContainerCreateOptions> = {},
) {
  const container = await docker.createContainer({
    name: uniqueName('tf-watch'),
    Image: TEST_WEB_IMAGE,
    Labels: labels,
    HostConfig: { Init: true },
    ...extra,
  });
  containerIds.push(container.id);
  return container;
}

describe('createContainerWatcher', () => {
  it('reports create, start, stop and removal of a labelled container and ignores others', async () => {
    const { watcher, view, changes, resyncs } = watch();
    await waitFor(() => resyncs.includes('initial'), { description: 'the initial resync' });
    expect(watcher.dockerReachable).toBe(true);

    const unlabelled = await createContainer({ 'com.example.role': 'not ours' });
    await unlabelled.start();
    const labelled = await createContainer({
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'watch.example.com',
    });
    await waitFor(() => view.get(labelled.id), { description: 'the created container' });
    await labelled.start();
    const running = await waitFor(
      () => (view.get(labelled.id)?.state === 'running' ? view.get(labelled.id) : undefined),
      {
        description: 'the labelled container running',
      },
    );
    expect(running.labels['tunnelfleet.hostname']).toBe('watch.example.com');
    expect(running.exposedPorts).toEqual([{ port: 80, protocol: 'tcp' }]);
    expect(running.networks.bridge?.ipAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    await labelled.stop({ t: 1 });
    await waitFor(() => view.get(labelled.id)?.state === 'exited', {
      description: 'the labelled container exited',
    });
    await labelled.remove();
    await waitFor(() => !view.has(labelled.id), { description: 'the labelled container removed' });
    expect(changes.at(-1)).toEqual({ action: 'remove', containerId: labelled.id });

    await unlabelled.remove({ force: true });
    expect(changes.some((c) => c.action === 'upsert' && c.container.id === unlabelled.id)).toBe(false);
    expect(watcher.containers().some((c) => c.id === unlabelled.id)).toBe(false);
  });

  it('reports a stopped container that wakes on request as sleeping, as a restarted agent still does', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tf-sleeping-'));
    try {
      const stoppedForIdleness = await createContainer({
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'idle.example.com',
      });
      const wakes = await createContainer({
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'wakes.example.com',
        'tunnelfleet.wake': 'true',
      });
      const plain = await createContainer({
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'plain.example.com',
      });
      // Created and never started (`docker compose create`): asleep until the first request.
      const neverStarted = await createContainer({
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'created.example.com',
        'tunnelfleet.wake': 'true',
      });
      for (const container of [stoppedForIdleness, wakes, plain]) {
        await container.start();
        await container.stop({ t: 1 });
      }
      // What the wake loop writes before it stops a container for its idle timeout.
      const sleeping = await loadSleepingContainers(dataDir, logger);
      const name = (await stoppedForIdleness.inspect()).Name.replace(/^\//, '');
      await sleeping.add(name);
      expect((await stat(join(dataDir, 'sleeping_containers.json'))).mode & 0o777).toBe(0o600);
      expect(JSON.parse(await readFile(join(dataDir, 'sleeping_containers.json'), 'utf8'))).toEqual([name]);

      // A restarted agent reads the file again.
      const { view } = watch(logger, await loadSleepingContainers(dataDir, logger));
      const stateOf = (id: string) => view.get(id)?.state;
      await waitFor(
        () => [stoppedForIdleness, wakes, plain, neverStarted].every((c) => stateOf(c.id) !== undefined),
        { description: 'the four containers listed' },
      );
      expect(stateOf(stoppedForIdleness.id)).toBe('sleeping');
      expect(stateOf(wakes.id)).toBe('sleeping');
      expect(stateOf(plain.id)).toBe('exited');
      expect(stateOf(neverStarted.id)).toBe('sleeping');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('reports a container whose labels are misspelt, for the master to flag, and logs the problem', async () => {
    const lines: string[] = [];
    const { view, resyncs } = watch(
      pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
    );
    await waitFor(() => resyncs.length > 0, { description: 'the initial resync' });
    const misspeltKey = await createContainer({
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostnme': 'x.example.com',
    });
    const misspeltEnable = await createContainer({ 'tunnelfleet.enabel': 'true' });
    const seen = await waitFor(() => view.get(misspeltKey.id), {
      description: 'the container with a misspelt key',
    });
    expect(seen.labels).toMatchObject({ 'tunnelfleet.hostnme': 'x.example.com' });
    await waitFor(() => view.get(misspeltEnable.id), { description: 'the container with a misspelt enable' });
    await waitFor(
      () => lines.some((line) => line.includes('tunnelfleet.hostnme') && line.includes('did you mean')),
      {
        description: 'a warning naming the misspelt label',
      },
    );
  });

  it('lists containers that existed before it started, with their networks and aliases', async () => {
    const network = await docker.createNetwork({ Name: uniqueName('tf-watch-net') });
    networkIds.push(network.id);
    const networkName = (await network.inspect()).Name as string;
    const existing = await createContainer(
      { 'labelgate.tunnel.main.hostname': 'lg.example.com' },
      {
        ExposedPorts: { '8080/tcp': {}, '53/udp': {} },
        HostConfig: { Init: true, NetworkMode: networkName },
        NetworkingConfig: { EndpointsConfig: { [networkName]: { Aliases: ['web-alias'] } } },
      },
    );
    await existing.start();

    const { view } = watch();
    const seen = await waitFor(() => view.get(existing.id), { description: 'the pre-existing container' });
    expect(seen.state).toBe('running');
    expect(seen.networks[networkName]?.aliases).toContain('web-alias');
    expect(seen.networks[networkName]?.ipAddress).not.toBe('');
    expect(seen.exposedPorts).toEqual([
      { port: 53, protocol: 'udp' },
      { port: 80, protocol: 'tcp' },
      { port: 8080, protocol: 'tcp' },
    ]);
    expect(seen.name.startsWith('/')).toBe(false);
  });

  it('reports a rename', async () => {
    const { view, resyncs } = watch();
    await waitFor(() => resyncs.length > 0, { description: 'the initial resync' });
    const container = await createContainer({ 'tunnelfleet.enable': 'true' });
    await waitFor(() => view.get(container.id), { description: 'the container' });
    const newName = uniqueName('tf-renamed');
    await container.rename({ name: newName });
    await waitFor(() => view.get(container.id)?.name === newName, { description: 'the new name' });
  });
});
