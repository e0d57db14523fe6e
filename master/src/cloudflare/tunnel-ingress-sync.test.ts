import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../../test/cloudflare-test-world.js';
import type { CloudflareLayer } from './cloudflare-layer.js';
import { IngressRuleLimitError } from './errors.js';
import { ingressKey } from './ingress.js';

describe('tunnel ingress sync against the emulator', () => {
  let world: TestWorld;
  let layer: CloudflareLayer;

  beforeAll(async () => {
    world = await startTestWorld(['example.com']);
    layer = world.layer();
  });
  afterAll(async () => {
    expect(world.emulator.specViolations()).toEqual([]);
    await world.close();
  });

  const configPuts = () =>
    world.emulator.writes().filter((c) => c.method === 'PUT' && c.path.endsWith('/configurations')).length;

  it('keeps foreign rules and the operator catch-all through create, update and delete', async () => {
    const { tunnelId } = await layer.tunnels.ensureTunnel('ingress-cycle');
    world.emulator.setTunnelConfig(tunnelId, {
      originRequest: { connectTimeout: 10 },
      ingress: [
        { hostname: 'manual.example.com', service: 'http://manual:80' },
        { service: 'http_status:503' },
      ],
    });

    const first = await layer.syncTunnelIngress({
      tunnelId,
      ownedKeys: [],
      desired: [
        { hostname: 'app.example.com', service: 'http://app:8080' },
        { hostname: 'app.example.com', path: '/api', service: 'http://api:8080' },
        { hostname: '*.example.com', service: 'http://wild:80' },
      ],
    });
    expect(first.changed).toBe(true);
    let config = world.emulator.tunnelConfig(tunnelId)!.config as {
      ingress: unknown[];
      originRequest: unknown;
    };
    // manual.example.com is matched by the new wildcard: the wildcard must come after it.
    expect(config.ingress).toEqual([
      { hostname: 'manual.example.com', service: 'http://manual:80' },
      { hostname: 'app.example.com', path: '/api', service: 'http://api:8080' },
      { hostname: 'app.example.com', service: 'http://app:8080' },
      { hostname: '*.example.com', service: 'http://wild:80' },
      { service: 'http_status:503' },
    ]);
    expect(config.originRequest).toEqual({ connectTimeout: 10 });

    world.emulator.seedIngressRule(tunnelId, { hostname: 'late.example.com', service: 'http://late:80' });
    const second = await layer.syncTunnelIngress({
      tunnelId,
      ownedKeys: first.ownedKeys,
      desired: [{ hostname: 'app.example.com', service: 'http://app:9090' }],
    });
    expect(second.changed).toBe(true);
    expect(second.ownedKeys).toEqual([ingressKey('app.example.com')]);
    config = world.emulator.tunnelConfig(tunnelId)!.config as { ingress: unknown[]; originRequest: unknown };
    expect(config.ingress).toEqual([
      { hostname: 'manual.example.com', service: 'http://manual:80' },
      { hostname: 'app.example.com', service: 'http://app:9090' },
      { hostname: 'late.example.com', service: 'http://late:80' },
      { service: 'http_status:503' },
    ]);

    const third = await layer.syncTunnelIngress({ tunnelId, ownedKeys: second.ownedKeys, desired: [] });
    expect(third.ownedKeys).toEqual([]);
    config = world.emulator.tunnelConfig(tunnelId)!.config as { ingress: unknown[]; originRequest: unknown };
    expect(config.ingress).toEqual([
      { hostname: 'manual.example.com', service: 'http://manual:80' },
      { hostname: 'late.example.com', service: 'http://late:80' },
      { service: 'http_status:503' },
    ]);
    expect(config.originRequest).toEqual({ connectTimeout: 10 });
  });

  it('reports a foreign rule on a wanted hostname as a conflict and leaves it', async () => {
    const { tunnelId } = await layer.tunnels.ensureTunnel('ingress-conflict');
    world.emulator.seedIngressRule(tunnelId, { hostname: 'taken.example.com', service: 'http://theirs:80' });
    const result = await layer.syncTunnelIngress({
      tunnelId,
      ownedKeys: [],
      desired: [{ hostname: 'taken.example.com', service: 'http://ours:80' }],
    });
    expect(result.conflicts).toEqual(['taken.example.com']);
    expect(result.ownedKeys).toEqual([]);
    expect(result.changed).toBe(false);
    const adopted = await layer.syncTunnelIngress({
      tunnelId,
      ownedKeys: [],
      adopt: true,
      desired: [{ hostname: 'taken.example.com', service: 'http://ours:80' }],
    });
    expect(adopted.ownedKeys).toEqual(['taken.example.com']);
    expect((world.emulator.tunnelConfig(tunnelId)!.config as { ingress: unknown[] }).ingress).toEqual([
      { hostname: 'taken.example.com', service: 'http://ours:80' },
      { service: 'http_status:404' },
    ]);
  });

  it('writes 100 new hostnames with one PUT, and nothing when nothing changed', async () => {
    const { tunnelId } = await layer.tunnels.ensureTunnel('ingress-burst');
    const desired = Array.from({ length: 100 }, (_, i) => ({
      hostname: `host-${i}.example.com`,
      service: `http://svc-${i}:80`,
    }));
    world.emulator.clearCalls();
    const first = await layer.syncTunnelIngress({ tunnelId, ownedKeys: [], desired });
    expect(first.ownedKeys).toHaveLength(100);
    expect(configPuts()).toBe(1);

    world.emulator.clearCalls();
    const again = await layer.syncTunnelIngress({ tunnelId, ownedKeys: first.ownedKeys, desired });
    expect(again.changed).toBe(false);
    expect(again.version).toBe(first.version);
    expect(world.emulator.writes()).toEqual([]);
  });

  it('refuses past 1,000 rules with a typed error and writes nothing', async () => {
    const { tunnelId } = await layer.tunnels.ensureTunnel('ingress-limit');
    const desired = Array.from({ length: 1000 }, (_, i) => ({
      hostname: `h${i}.example.com`,
      service: 'http://svc:80',
    }));
    world.emulator.clearCalls();
    await expect(layer.syncTunnelIngress({ tunnelId, ownedKeys: [], desired })).rejects.toBeInstanceOf(
      IngressRuleLimitError,
    );
    expect(world.emulator.writes()).toEqual([]);
  });

  it("takes over an adopted foreign rule in place only while it is as the operator's diff showed it", async () => {
    const { tunnelId } = await layer.tunnels.ensureTunnel('ingress-adopt');
    const legacy = {
      hostname: 'legacy.example.com',
      service: 'http://old:80',
      originRequest: { noTLSVerify: true },
    };
    const before = { hostname: 'first.example.com', service: 'http://first:80' };
    const after = { hostname: 'last.example.com', service: 'http://last:80' };
    world.emulator.setTunnelConfig(tunnelId, {
      ingress: [before, legacy, after, { service: 'http_status:404' }],
    });
    const desired = [{ hostname: 'legacy.example.com', service: 'http://new:8080' }];

    // Seen differently from what is there now: left foreign, untouched, and reported.
    const stale = await layer.syncTunnelIngress({
      tunnelId,
      ownedKeys: [],
      desired,
      adopting: [{ key: 'legacy.example.com', seen: [{ ...legacy, service: 'http://older:80' }] }],
    });
    expect(stale).toMatchObject({ changed: false, adopted: [], staleAdoptions: ['legacy.example.com'] });
    expect(stale.conflicts).toEqual(['legacy.example.com']);
    expect(world.emulator.tunnelConfig(tunnelId)!.config).toEqual({
      ingress: [before, legacy, after, { service: 'http_status:404' }],
    });

    // Seen as it is: ours from now on, rewritten where it stands, every other rule as it was.
    const taken = await layer.syncTunnelIngress({
      tunnelId,
      ownedKeys: [],
      desired,
      adopting: [{ key: 'legacy.example.com', seen: [legacy] }],
    });
    expect(taken).toMatchObject({
      changed: true,
      adopted: ['legacy.example.com'],
      staleAdoptions: [],
      conflicts: [],
      ownedKeys: ['legacy.example.com'],
    });
    expect(world.emulator.tunnelConfig(tunnelId)!.config).toEqual({
      ingress: [before, desired[0], after, { service: 'http_status:404' }],
    });
  });
});
