import Cloudflare from 'cloudflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busiestWindow, startTestWorld, type TestWorld } from '../../test/cloudflare-test-world.js';
import type { AccessAppSpec } from './access.js';
import type { CloudflareLayer } from './cloudflare-layer.js';
import type { OwnedDnsRecord } from './dns-plan.js';

const LIMIT = { requests: 40, windowSeconds: 2 };

describe('the layer converges under a 429 storm and a 30 % 5xx rate', () => {
  let world: TestWorld;
  let layer: CloudflareLayer;

  beforeAll(async () => {
    world = await startTestWorld(['example.com'], { rateLimit: LIMIT }, { limit: 40, windowMs: 2000 });
    layer = world.layer();
  });
  afterAll(async () => {
    await world.close();
  });

  const hostnames = Array.from({ length: 15 }, (_, i) => `svc-${i}.example.com`);
  const access: AccessAppSpec[] = hostnames.slice(0, 4).map((hostname, i) => ({
    hostname,
    policies: [{ decision: 'allow', include: [{ email: { email: `user${i % 2}@example.com` } }] }],
  }));

  /** What the reconciler does: repeat each sync, carrying its ownership forward, until all is ok. */
  async function converge(state: {
    tunnelId?: string;
    keys: string[];
    dns: OwnedDnsRecord[];
    apps: string[];
  }) {
    for (let round = 0; round < 30; round++) {
      try {
        state.tunnelId ??= (await layer.tunnels.ensureTunnel('chaos-agent')).tunnelId;
        const tunnelId = state.tunnelId;
        const ingress = await layer.syncTunnelIngress({
          tunnelId,
          ownedKeys: state.keys,
          desired: hostnames.map((hostname) => ({ hostname, service: 'http://web:80' })),
        });
        state.keys = ingress.ownedKeys;
        const dns = await layer.syncDnsRecords({
          owner: 'chaos-agent',
          owned: state.dns,
          desired: hostnames.map((hostname) => ({ hostname, tunnelId })),
        });
        state.dns = dns.owned;
        const apps = await layer.syncAccessApps({ desired: access, ownedAppIds: state.apps });
        state.apps = apps.ownedAppIds;
        const allOk =
          Object.values(dns.hostnames).every((r) => r.status === 'ok') &&
          Object.values(apps.apps).every((r) => r.status === 'ok') &&
          state.keys.length === hostnames.length;
        if (allOk) return round;
      } catch {
        // Retries ran out for this round; the next round re-reads and carries on.
      }
    }
    throw new Error('did not converge in 30 rounds');
  }

  it('ends with exactly one tunnel, rule, record and app per route, never over the budget', async () => {
    const emulator = world.emulator;
    world.emulator.seedDnsRecord('example.com', {
      type: 'A',
      name: 'www.example.com',
      content: '192.0.2.1',
      ttl: 1,
    });
    emulator.faults.set({ rateLimitStorm: true, errorRate: { '*': 0.3 } });
    const state = { keys: [] as string[], dns: [] as OwnedDnsRecord[], apps: [] as string[] } as {
      tunnelId?: string;
      keys: string[];
      dns: OwnedDnsRecord[];
      apps: string[];
    };
    const running = converge(state);
    // Let the storm bite for a while, then lift it; the 5xx rate stays for the whole run.
    const deadline = Date.now() + 10_000;
    while (emulator.calls().filter((c) => c.status === 429).length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stormEnd = Date.now();
    emulator.faults.set({ rateLimitStorm: false });
    await running;
    emulator.faults.clear();

    const calls = emulator.calls();
    expect(calls.filter((c) => c.status === 429).length).toBeGreaterThanOrEqual(3);
    expect(calls.filter((c) => c.status >= 500).length).toBeGreaterThan(0);
    // The budget held: no window at the emulator saw more than the limit, and once the storm
    // was lifted the emulator's own limiter never had to answer 429.
    expect(busiestWindow(calls, LIMIT.windowSeconds * 1000)).toBeLessThanOrEqual(LIMIT.requests);
    expect(calls.filter((c) => c.status === 429 && c.time > stormEnd + 50)).toEqual([]);

    // No duplicates anywhere.
    expect(emulator.tunnels().filter((t) => t.name === 'chaos-agent' && !t.deleted_at)).toHaveLength(1);
    const config = emulator.tunnelConfig(state.tunnelId!)!.config as { ingress: { hostname?: string }[] };
    const ruleHosts = config.ingress.flatMap((r) => (r.hostname ? [r.hostname] : []));
    expect([...ruleHosts].sort()).toEqual([...hostnames].sort());
    const recordNames = emulator.dnsRecords('example.com').map((r) => String(r.name));
    expect(recordNames.sort()).toEqual([...hostnames, 'www.example.com'].sort());
    expect(state.apps).toHaveLength(access.length);
    const operator = new Cloudflare({
      apiToken: world.defaultToken,
      baseURL: emulator.baseUrl,
      maxRetries: 0,
    });
    const apps = (await operator.zeroTrust.access.applications.list({ account_id: world.accountId })).result;
    expect(apps.map((a) => (a as { domain?: string }).domain).sort()).toEqual(
      access.map((a) => a.hostname).sort(),
    );
    const policies = (await operator.zeroTrust.access.policies.list({ account_id: world.accountId })).result;
    expect(policies).toHaveLength(2);

    // Converged: one more pass without faults writes nothing.
    emulator.clearCalls();
    const quiet = await converge(state);
    expect(quiet).toBe(0);
    expect(emulator.writes()).toEqual([]);
    expect(emulator.specViolations()).toEqual([]);
  }, 120_000);
});

describe('the layer on one tunnel', () => {
  it('publishes 100 new hostnames with at most 1 configuration PUT and 2 DNS writes', async () => {
    const world = await startTestWorld(['example.com']);
    try {
      const layer = world.layer();
      const { tunnelId } = await layer.tunnels.ensureTunnel('burst-agent');
      const hostnames = Array.from({ length: 100 }, (_, i) => `b${i}.example.com`);
      world.emulator.clearCalls();
      const ingress = await layer.syncTunnelIngress({
        tunnelId,
        ownedKeys: [],
        desired: hostnames.map((hostname) => ({ hostname, service: 'http://web:80' })),
      });
      const dns = await layer.syncDnsRecords({
        owner: 'burst-agent',
        owned: [],
        desired: hostnames.map((hostname) => ({ hostname, tunnelId })),
      });
      expect(ingress.ownedKeys).toHaveLength(100);
      expect(dns.owned).toHaveLength(100);
      const writes = world.emulator.writes();
      expect(writes.filter((c) => c.path.endsWith('/configurations'))).toHaveLength(1);
      expect(writes.filter((c) => c.path.includes('/dns_records')).length).toBeLessThanOrEqual(2);
      expect(writes).toHaveLength(writes.filter((c) => /configurations|dns_records/.test(c.path)).length);
      expect(world.emulator.specViolations()).toEqual([]);
    } finally {
      await world.close();
    }
  });

  it('raises an alert when a token starts failing verification, once', async () => {
    const world = await startTestWorld(['example.com']);
    try {
      const raised: { type: string; data: Record<string, unknown> }[] = [];
      const alerts = { emit: (type: string, data: Record<string, unknown>) => raised.push({ type, data }) };
      const broken = world.layer({ defaultToken: 'not-a-token', tokenCheckTtlMs: 0 }, alerts);
      await broken.verifyTokens();
      await broken.verifyTokens();
      // Once per change, not per check; and the token by name, never its value.
      expect(raised).toEqual([
        {
          type: 'cloudflare.token_failed',
          data: { tokenName: 'default', message: expect.stringContaining('401') },
        },
      ]);
      expect(JSON.stringify(raised)).not.toContain('not-a-token');
    } finally {
      await world.close();
    }
  });

  it('verifies its tokens and reports call counters by token', async () => {
    const world = await startTestWorld(['example.com']);
    try {
      const layer = world.layer();
      expect(await layer.verifyTokens()).toEqual([{ name: 'default', ok: true, message: 'token is active' }]);
      const broken = world.layer({ defaultToken: 'not-a-token' });
      const [check] = await broken.verifyTokens();
      expect(check).toMatchObject({ name: 'default', ok: false });
      expect(check?.message).toContain('401');
      expect(layer.callCounters()).toEqual({
        default: { ok: 1, rate_limited: 0, server_error: 0, client_error: 0, network_error: 0 },
      });
    } finally {
      await world.close();
    }
  });
});
