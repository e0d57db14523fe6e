import { decodeTunnelToken } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../../test/cloudflare-test-world.js';
import type { CloudflareLayer } from './cloudflare-layer.js';
import { CloudflarePermissionError, TunnelNotFoundError } from './errors.js';

describe('tunnels against the emulator', () => {
  let world: TestWorld;
  let layer: CloudflareLayer;

  beforeAll(async () => {
    world = await startTestWorld();
    layer = world.layer();
  });
  afterAll(async () => {
    expect(world.emulator.specViolations()).toEqual([]);
    await world.close();
  });

  const named = (name: string) => world.emulator.tunnels().filter((t) => t.name === name && !t.deleted_at);

  it('makes a new tunnel with one call, and finds many taken names with one shared list', async () => {
    const names = Array.from({ length: 30 }, (_, i) => `fleet-host-${i}`);
    world.emulator.clearCalls();
    const made = await Promise.all(names.map((name) => layer.tunnels.ensureTunnel(name)));
    expect(made.every((t) => t.created)).toBe(true);
    expect(world.emulator.calls().map((c) => c.method)).toEqual(names.map(() => 'POST'));

    // The same hosts again (a master that lost their replies, or restarted): each create is
    // refused by name, and the look-ups that follow share list calls.
    world.emulator.clearCalls();
    const again = await Promise.all(names.map((name) => layer.tunnels.ensureTunnel(name)));
    expect(again.map((t) => t.tunnelId)).toEqual(made.map((t) => t.tunnelId));
    expect(again.every((t) => !t.created)).toBe(true);
    const calls = world.emulator.calls();
    expect(calls.filter((c) => c.method === 'POST')).toHaveLength(names.length);
    // Shared: a handful of list calls at most (however the refusals were spread), not one per host.
    expect(calls.filter((c) => c.method === 'GET').length).toBeLessThanOrEqual(3);
    for (const name of names) expect(named(name)).toHaveLength(1);
  });

  it('creates a remotely managed tunnel once, even when asked twice and through failures', async () => {
    world.emulator.faults.set({ failNext: { route: '*', status: 503, count: 2 }, dropConnections: 1 });
    const first = await layer.tunnels.ensureTunnel('agent-a');
    world.emulator.faults.clear();
    const second = await layer.tunnels.ensureTunnel('agent-a');
    expect(first.created).toBe(true);
    expect(second).toEqual({ tunnelId: first.tunnelId, name: 'agent-a', created: false });
    expect(named('agent-a')).toHaveLength(1);
    expect(named('agent-a')[0]).toMatchObject({ id: first.tunnelId, config_src: 'cloudflare' });
  });

  it('fetches and rotates the token; the old one no longer matches the tunnel secret', async () => {
    const { tunnelId } = await layer.tunnels.ensureTunnel('agent-b');
    const token = await layer.tunnels.getToken(tunnelId);
    expect(decodeTunnelToken(token)).toMatchObject({ a: world.accountId, t: tunnelId });
    const rotated = await layer.tunnels.rotateToken(tunnelId);
    expect(rotated).not.toBe(token);
    expect(await layer.tunnels.getToken(tunnelId)).toBe(rotated);
    expect(decodeTunnelToken(rotated)?.s).not.toBe(decodeTunnelToken(token)?.s);
  });

  it('lists connections and deletes the tunnel, twice without error', async () => {
    const { tunnelId } = await layer.tunnels.ensureTunnel('agent-c');
    expect(await layer.tunnels.listConnections(tunnelId)).toEqual([]);
    await layer.tunnels.deleteTunnel(tunnelId);
    await layer.tunnels.deleteTunnel(tunnelId);
    expect(named('agent-c')).toEqual([]);
    await expect(layer.tunnels.getToken(tunnelId)).rejects.toBeInstanceOf(TunnelNotFoundError);
  });

  it('says which token lacks the account when Cloudflare answers 403', async () => {
    const other = world.emulator.createAccount('other');
    const outsider = world.emulator.createToken({
      accountIds: [other.id],
      zoneNames: 'all',
      name: 'outsider',
    });
    const layerWithoutAccount = world.layer({ defaultToken: outsider });
    const error = await layerWithoutAccount.tunnels.ensureTunnel('agent-d').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CloudflarePermissionError);
    expect((error as Error).message).toContain('"default"');
    expect((error as Error).message).toContain('403');
  });
});
