import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudflaredSettings, Command } from '@tunnelfleet/common';
import { CLOUDFLARED_IMAGE, uniqueName } from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { standaloneTunnelToken } from '../../test/standalone-tunnel-token.js';
import { connectTestDocker } from '../../test/test-docker.js';
import {
  CLOUDFLARED_LABELS,
  cloudflaredMetricsNetwork,
  managedLabelFilter,
} from '../cloudflared/container-spec.js';
import { createSharedConnectors } from '../cloudflared/shared-connectors.js';
import { type CloudflaredSupervisor, createCloudflaredSupervisor } from '../cloudflared/supervisor.js';
import { createTunnelStateCache } from '../state/index.js';
import { createCommandExecutor } from './command-executor.js';

const logger = pino({ level: 'silent' });
let docker: Docker;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  docker = await connectTestDocker();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function setup() {
  const agentId = uniqueName('agent');
  const network = uniqueName('tf-cmd-net');
  const dataDir = await mkdtemp(join(tmpdir(), 'tf-cmd-'));
  const cache = createTunnelStateCache({ dataDir, logger });
  const supervisors: Array<Pick<CloudflaredSupervisor, 'stop'>> = [];
  const managed = () => docker.listContainers({ all: true, filters: { label: managedLabelFilter(agentId) } });
  cleanups.push(async () => {
    await docker.getNetwork(network).remove();
    await docker.getNetwork(cloudflaredMetricsNetwork(network)).remove();
    await rm(dataDir, { recursive: true, force: true });
  });
  cleanups.push(async () => {
    await Promise.all(supervisors.map((s) => s.stop()));
    for (const c of await managed()) await docker.getContainer(c.Id).remove({ force: true });
  });
  /** A fresh executor over the same data dir, as after an agent restart. */
  const executor = async () => {
    const makeSupervisor = (sharedTunnelId?: string) =>
      createCloudflaredSupervisor({
        docker,
        logger,
        agentId,
        network,
        metricsNetwork: cloudflaredMetricsNetwork(network),
        image: CLOUDFLARED_IMAGE,
        metricsPort: 20241,
        ...(sharedTunnelId ? { sharedTunnelId } : {}),
      });
    const supervisor = makeSupervisor();
    const shared = createSharedConnectors({ docker, logger, agentId, makeSupervisor });
    supervisors.push(supervisor, shared);
    return createCommandExecutor({
      supervisor: () => supervisor,
      sharedConnectors: () => shared,
      cache,
      logger,
      initialState: await cache.readTunnelState(),
      initialShared: await cache.readSharedTunnels(),
    });
  };
  return { cache, managed, executor, dataDir };
}

const tunnelId = randomUUID();
const envelope = (id: string, version: number) => ({ id, version, issuedAt: new Date().toISOString() });
const start = (version: number, token: string): Command => ({
  ...envelope(`cmd-${version}`, version),
  type: 'start_tunnel',
  payload: { tunnelId, tunnelName: 'host-a', token, cloudflaredImage: CLOUDFLARED_IMAGE },
});
const update = (version: number, token: string): Command => ({
  ...envelope(`cmd-${version}`, version),
  type: 'update_tunnel',
  payload: { tunnelId, token },
});
const stop = (version: number): Command => ({
  ...envelope(`cmd-${version}`, version),
  type: 'stop_tunnel',
  payload: { tunnelId, reason: 'test' },
});

describe('command executor', () => {
  it('starts, replaces on a new token, keeps an unchanged one, and stops', async () => {
    const { managed, executor, cache } = await setup();
    const commands = await executor();
    const firstToken = standaloneTunnelToken();

    const started = await commands.execute(start(1, firstToken));
    expect(started).toMatchObject({
      commandId: 'cmd-1',
      version: 1,
      status: 'ok',
      result: { action: 'started' },
    });
    const [first] = await managed();
    expect(first?.State).toBe('running');
    expect(first?.Id).toBe(started.result?.containerId);
    expect((await cache.readTunnelState())?.version).toBe(1);

    const same = await commands.execute(start(2, firstToken));
    expect(same).toMatchObject({ status: 'ok', result: { action: 'unchanged', containerId: first?.Id } });

    const secondToken = standaloneTunnelToken();
    const rotated = await commands.execute(update(3, secondToken));
    expect(rotated).toMatchObject({ status: 'ok', result: { action: 'replaced' } });
    const after = await managed();
    expect(after.map((c) => c.Id)).toEqual([rotated.result?.containerId]);
    expect(after[0]?.Id).not.toBe(first?.Id);
    expect(after[0]?.Labels[CLOUDFLARED_LABELS.tokenHash]).not.toBe(
      first?.Labels[CLOUDFLARED_LABELS.tokenHash],
    );
    expect((await cache.readTunnelState())?.token).toBe(secondToken);

    const stopped = await commands.execute(stop(4));
    expect(stopped).toMatchObject({ status: 'ok', result: { action: 'stopped' } });
    expect(await managed()).toEqual([]);
    expect((await cache.readTunnelState())?.desiredState).toBe('stopped');
  });

  it('takes the settings of update_tunnel as a whole, and replaces cloudflared only when its command line changes', async () => {
    const { managed, executor, cache } = await setup();
    const commands = await executor();
    const token = standaloneTunnelToken();
    const settings = (version: number, value: CloudflaredSettings): Command => ({
      ...envelope(`cmd-${version}`, version),
      type: 'update_tunnel',
      payload: { tunnelId, settings: value },
    });
    await commands.execute(start(1, token));
    const [first] = await managed();

    const logged = await commands.execute(settings(2, { logLevel: 'debug', retries: 3 }));
    expect(logged).toMatchObject({ status: 'ok', result: { action: 'replaced' } });
    const [second] = await managed();
    expect((await docker.getContainer(second!.Id).inspect()).Config.Cmd).toEqual(
      expect.arrayContaining(['--loglevel', 'debug', '--retries', '3']),
    );
    expect(second?.Id).not.toBe(first?.Id);

    // The master cleared the log level: it must be gone, not kept from the settings before.
    const cleared = await commands.execute(settings(3, { retries: 3 }));
    expect(cleared).toMatchObject({ status: 'ok', result: { action: 'replaced' } });
    expect((await cache.readTunnelState())?.settings).toEqual({ retries: 3 });
    const [third] = await managed();
    expect((await docker.getContainer(third!.Id).inspect()).Config.Cmd).not.toContain('--loglevel');

    // Off is cloudflared's default: no flag, the same command line, the same container.
    const same = await commands.execute(settings(4, { retries: 3, postQuantum: false }));
    expect(same).toMatchObject({ status: 'ok', result: { action: 'unchanged', containerId: third?.Id } });
    expect((await managed()).map((c) => c.Id)).toEqual([third?.Id]);
  });

  it('acks a stale version ignored_stale, re-acks a redelivery, and remembers the version across restarts', async () => {
    const { managed, executor } = await setup();
    const commands = await executor();
    const token = standaloneTunnelToken();
    const applied = await commands.execute(start(5, token));
    expect(applied.status).toBe('ok');

    expect(await commands.execute(stop(4))).toEqual({
      commandId: 'cmd-4',
      version: 4,
      status: 'ignored_stale',
    });
    expect((await managed()).length).toBe(1);
    expect(await commands.execute(start(5, token))).toEqual(applied);

    const restarted = await executor();
    expect(restarted.lastAppliedVersion()).toBe(5);
    expect(await restarted.execute(stop(3))).toMatchObject({ status: 'ignored_stale' });
    expect((await managed()).length).toBe(1);
  });

  it('acks an update of a tunnel it does not run as an error', async () => {
    const { executor, managed } = await setup();
    const commands = await executor();
    const ack = await commands.execute(update(1, standaloneTunnelToken()));
    expect(ack).toMatchObject({ status: 'error', error: { code: 'unknown_tunnel' } });
    expect(await managed()).toEqual([]);
  });

  it('refuses a malformed token before persisting it or starting any container, saying what is wrong', async () => {
    const { executor, managed, cache } = await setup();
    const commands = await executor();
    // Base64 of a JSON without the secret: the real cloudflared would start and be refused by the edge.
    const noSecret = Buffer.from(JSON.stringify({ a: 'account', t: tunnelId })).toString('base64');
    const refused = await commands.execute(start(1, noSecret));
    expect(refused).toMatchObject({
      status: 'error',
      error: { code: 'tunnel_token_malformed', message: expect.stringContaining('tunnel secret ("s"') },
    });
    expect(refused.error?.message).not.toContain(noSecret);
    expect(await managed()).toEqual([]);
    expect(await cache.readTunnelState()).toBeUndefined();

    // A running tunnel keeps its container and cached token when an update brings a bad one.
    const good = standaloneTunnelToken();
    const started = await commands.execute(start(2, good));
    const notJson = Buffer.from('not json at all').toString('base64');
    expect(await commands.execute(update(3, notJson))).toMatchObject({
      status: 'error',
      error: { code: 'tunnel_token_malformed', message: expect.stringContaining('not of JSON') },
    });
    expect((await managed()).map((c) => c.Id)).toEqual([started.result?.containerId]);
    expect((await cache.readTunnelState())?.token).toBe(good);
  });

  it('does not start cloudflared from a cached token that is malformed', async () => {
    const { executor, managed, cache } = await setup();
    await (await executor()).execute(start(1, standaloneTunnelToken()));
    for (const c of await managed()) await docker.getContainer(c.Id).remove({ force: true });
    const cached = await cache.readTunnelState();
    await cache.writeTunnelState({ ...cached!, token: Buffer.from('not json at all').toString('base64') });

    await (await executor()).restore();
    expect(await managed()).toEqual([]);
  });

  it('restores a running tunnel from the cache', async () => {
    const { executor, managed } = await setup();
    await (await executor()).execute(start(1, standaloneTunnelToken()));
    for (const c of await managed()) await docker.getContainer(c.Id).remove({ force: true });

    await (await executor()).restore();
    expect((await managed()).map((c) => c.State)).toEqual(['running']);
  });

  it('runs a shared tunnel connector beside its own cloudflared, restores it from a 0600 cache, and stops only it on leave', async () => {
    const { executor, managed, cache, dataDir } = await setup();
    const commands = await executor();
    const sharedId = randomUUID();
    const sharedToken = standaloneTunnelToken();
    const joinCommand = (version: number, token: string): Command => ({
      ...envelope(`cmd-${version}`, version),
      type: 'join_shared_tunnel',
      payload: { tunnelId: sharedId, tunnelName: 'web-pool', token, cloudflaredImage: CLOUDFLARED_IMAGE },
    });
    const leave = (version: number): Command => ({
      ...envelope(`cmd-${version}`, version),
      type: 'leave_shared_tunnel',
      payload: { tunnelId: sharedId, reason: 'test' },
    });
    const own = await commands.execute(start(1, standaloneTunnelToken()));
    const joined = await commands.execute(joinCommand(2, sharedToken));
    expect(joined).toMatchObject({ status: 'ok', result: { action: 'started' } });
    const running = async () =>
      (await managed())
        .filter((c) => c.State === 'running')
        .map((c) => ({ id: c.Id, shared: c.Labels[CLOUDFLARED_LABELS.sharedTunnel] ?? null }))
        .sort((a, b) => String(a.shared).localeCompare(String(b.shared)));
    expect(await running()).toEqual(
      [
        { id: own.result?.containerId, shared: null },
        { id: joined.result?.containerId, shared: sharedId },
      ].sort((a, b) => String(a.shared).localeCompare(String(b.shared))),
    );
    // The same join again (a re-registration) changes nothing.
    expect(await commands.execute(joinCommand(3, sharedToken))).toMatchObject({
      result: { action: 'unchanged', containerId: joined.result?.containerId },
    });
    const file = join(dataDir, 'shared_tunnels.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await cache.readSharedTunnels()).tunnels.map((t) => t.tunnelId)).toEqual([sharedId]);

    // The host restarts with no master: both come back from the cache.
    for (const c of await managed()) await docker.getContainer(c.Id).remove({ force: true });
    const restarted = await executor();
    expect(restarted.lastAppliedVersion()).toBe(3);
    await restarted.restore();
    expect((await running()).map((c) => c.shared).sort()).toEqual([null, sharedId].sort());

    const left = await restarted.execute(leave(4));
    expect(left).toMatchObject({ status: 'ok', result: { action: 'stopped' } });
    expect((await running()).map((c) => c.shared)).toEqual([null]);
    expect((await cache.readSharedTunnels()).tunnels).toEqual([]);
    expect(await readFile(file, 'utf8')).not.toContain(sharedToken);
  });
});
