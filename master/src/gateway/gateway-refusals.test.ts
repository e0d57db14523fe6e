import { createHash } from 'node:crypto';
import {
  type Container,
  type GatewayHeartbeat,
  gatewayServiceUrl,
  listRoutesResponseSchema,
  type RouteView,
  stableStringify,
} from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { useMasterFixture } from '../../test/master-test-fixture.js';

function container(name: string, labels: Record<string, string> = {}): Container {
  return {
    id: createHash('sha256').update(name).digest('hex'),
    name,
    labels: {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': `${name}.example.com`,
      'tunnelfleet.service': `http://${name}:80`,
      'tunnelfleet.wake': 'true',
      ...labels,
    },
    state: 'sleeping',
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

describe("routes the host's gateway refuses", () => {
  const master = useMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50' }, zone: 'example.com' });

  async function routes(): Promise<Map<string, RouteView>> {
    const answer = listRoutesResponseSchema.parse((await master().admin('GET', '/routes')).body);
    return new Map(answer.routes.map((route) => [route.hostname ?? route.routeKey, route]));
  }

  /** Every ingress rule at the emulator, by hostname: where cloudflared would send it. */
  const rules = () =>
    new Map(
      master()
        .emulator.tunnels()
        .flatMap(
          (tunnel) =>
            (
              master().emulator.tunnelConfig(String(tunnel.id))?.config as {
                ingress?: { hostname?: string; service: string }[];
              }
            )?.ingress ?? [],
        )
        .flatMap((rule) => (rule.hostname ? [[rule.hostname, rule.service] as const] : [])),
    );
  /** What Cloudflare holds: every tunnel's configuration and every DNS record, as one string. */
  const cloudflareState = () =>
    stableStringify({
      configs: master()
        .emulator.tunnels()
        .map((tunnel) => master().emulator.tunnelConfig(String(tunnel.id))),
      records: master().emulator.dnsRecords('example.com'),
    });

  const heartbeat = (agent: { key: string; agentId: string }, gateway: Partial<GatewayHeartbeat> = {}) =>
    master().heartbeat(agent, {
      gateway: {
        state: 'running',
        ready: true,
        serviceUrl: gatewayServiceUrl(agent.agentId),
        tableVersion: 1,
        image: 'tunnelfleet/agent:1',
        ...gateway,
      },
    });

  const settle = (description: string, done: (all: Map<string, RouteView>) => boolean) =>
    waitFor(
      async () => {
        const all = await routes();
        return done(all) ? all : undefined;
      },
      { description },
    );

  it('withholds a refused route with the reason as its status, and publishes it again once accepted', async () => {
    const agent = await master().enrollAgent({ name: 'refusing-host' });
    expect((await heartbeat(agent)).status).toBe(200);
    await master().reportSnapshot(agent, 1, [container('kept'), container('skewed')]);
    const active = await settle(
      'both routes published through the gateway',
      (all) =>
        all.get('kept.example.com')?.status === 'active' &&
        all.get('skewed.example.com')?.status === 'active' &&
        rules().size === 2,
    );
    expect(rules().get('skewed.example.com')).toBe(gatewayServiceUrl(agent.agentId));
    const skewed = active.get('skewed.example.com')!;

    const refused = {
      id: `route-${skewed.id}`,
      code: 'unsupported_field' as const,
      message: 'filters: Unrecognized key: "rateLimit"',
    };
    expect((await heartbeat(agent, { refused: [refused] })).status).toBe(200);
    const withheld = await settle(
      'the refused route withheld',
      (all) => all.get('skewed.example.com')?.status !== 'active' && !rules().has('skewed.example.com'),
    );
    expect(withheld.get('skewed.example.com')).toMatchObject({
      status: 'error',
      statusMessage:
        'the host\'s gateway refused this route (unsupported_field): filters: Unrecognized key: "rateLimit"; ' +
        'the route is not published until then',
    });
    // The rest of the host's routes stay published.
    expect(withheld.get('kept.example.com')?.status).toBe('active');
    expect(rules().get('kept.example.com')).toBe(gatewayServiceUrl(agent.agentId));

    // A later push that the gateway accepts: the next heartbeat names no refusal.
    expect((await heartbeat(agent)).status).toBe(200);
    await settle(
      'the route published again',
      (all) => all.get('skewed.example.com')?.status === 'active' && rules().has('skewed.example.com'),
    );
  });

  it("never lets an agent's refusal touch another agent's route: the victim stays as it was at Cloudflare", async () => {
    const victim = await master().enrollAgent({ name: 'victim-host' });
    const attacker = await master().enrollAgent({ name: 'attacker-host' });
    await heartbeat(victim);
    await heartbeat(attacker);
    await master().reportSnapshot(victim, 1, [container('victim-app')]);
    await master().reportSnapshot(attacker, 1, [container('attacker-app')]);
    const before = await settle(
      'both agents published',
      (all) =>
        all.get('victim-app.example.com')?.status === 'active' &&
        all.get('attacker-app.example.com')?.status === 'active' &&
        rules().has('victim-app.example.com') &&
        rules().has('attacker-app.example.com') &&
        master()
          .emulator.dnsRecords('example.com')
          .some((record) => record.name === 'victim-app.example.com'),
    );
    const target = before.get('victim-app.example.com')!;
    const snapshot = cloudflareState();

    const forged = [
      { id: `route-${target.id}`, code: 'invalid_route' as const, message: 'forged' },
      { id: `route-${target.id + 1000}`, code: 'invalid_route' as const, message: 'no such route' },
      { id: 'kept', code: 'duplicate_id' as const, message: 'not a route id of the master' },
    ];
    expect((await heartbeat(attacker, { refused: forged })).status).toBe(200);
    // The attacker's own route is synced after the heartbeat: wait for that sync to land.
    await master().reportSnapshot(attacker, 2, [container('attacker-app'), container('attacker-two')]);
    await settle('the attacker sync done', (all) => all.get('attacker-two.example.com')?.status === 'active');

    const after = await routes();
    expect(after.get('victim-app.example.com')).toMatchObject({ status: 'active', statusMessage: null });
    expect(rules().get('victim-app.example.com')).toBe(gatewayServiceUrl(victim.agentId));
    // The victim's tunnel configuration and DNS record, byte for byte.
    const victimOnly = (state: string) => {
      const { configs, records } = JSON.parse(state) as { configs: unknown[]; records: { name: string }[] };
      return stableStringify({
        configs: configs.filter((config) => JSON.stringify(config).includes('victim-app.example.com')),
        records: records.filter((record) => record.name === 'victim-app.example.com'),
      });
    };
    expect(JSON.parse(victimOnly(snapshot))).toMatchObject({
      configs: [expect.anything()],
      records: [expect.anything()],
    });
    expect(victimOnly(cloudflareState())).toBe(victimOnly(snapshot));

    // Too many, or too long: refused whole at the boundary, nothing stored.
    const tooMany = Array.from({ length: 101 }, (_, i) => ({
      id: `route-${i + 1}`,
      code: 'invalid_route',
      message: 'x',
    }));
    expect((await heartbeat(attacker, { refused: tooMany as never })).status).toBe(400);
    const tooLong = [{ id: `route-${target.id}`, code: 'invalid_route', message: 'x'.repeat(401) }];
    expect((await heartbeat(attacker, { refused: tooLong as never })).status).toBe(400);
    const unknownCode = [{ id: `route-${target.id}`, code: 'because', message: 'x' }];
    expect((await heartbeat(attacker, { refused: unknownCode as never })).status).toBe(400);
    expect((await routes()).get('victim-app.example.com')?.status).toBe('active');
  });

  it('withholds waking routes whose dependencies form a cycle, naming it, and publishes them once it is broken', async () => {
    const agent = await master().enrollAgent({ name: 'cycle-host' });
    await heartbeat(agent);
    await master().reportSnapshot(agent, 1, [
      container('front', { 'tunnelfleet.depends_on': 'api' }),
      container('api', { 'tunnelfleet.depends_on': 'front' }),
      container('alone'),
    ]);
    const withheld = await settle(
      'the cycle withheld',
      (all) =>
        all.get('alone.example.com')?.status === 'active' &&
        all.get('front.example.com')?.status === 'error' &&
        all.get('api.example.com')?.status === 'error',
    );
    expect(withheld.get('front.example.com')?.statusMessage).toBe(
      'dependency cycle front → api → front (check their depends_on labels); the route is not published until then',
    );
    expect(withheld.get('api.example.com')?.statusMessage).toBe(
      'dependency cycle api → front → api (check their depends_on labels); the route is not published until then',
    );
    expect(rules().has('front.example.com')).toBe(false);
    expect(rules().has('api.example.com')).toBe(false);

    await master().reportSnapshot(agent, 2, [
      container('front', { 'tunnelfleet.depends_on': 'api' }),
      container('api'),
      container('alone'),
    ]);
    await settle(
      'the routes published once the cycle is broken',
      (all) =>
        all.get('front.example.com')?.status === 'active' && all.get('api.example.com')?.status === 'active',
    );
  });
});
