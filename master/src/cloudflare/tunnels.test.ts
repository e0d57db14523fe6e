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
