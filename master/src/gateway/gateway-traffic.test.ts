import { type GatewayTraffic, gatewayServiceUrl } from '@tunnelfleet/common';
import { gatewayRouteTraffic, waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { type MasterFixture, useMasterFixture } from '../../test/master-test-fixture.js';
import { container, webLabels } from '../../test/reconciler-test-world.js';

const fixture = useMasterFixture({ zone: 'example.com' });

type Agent = { key: string; agentId: string };

/** A heartbeat of an agent whose gateway is ready, with `gatewayTraffic` when given. */
function heartbeat(fx: MasterFixture, agent: Agent, gatewayTraffic?: unknown) {
  return fx.heartbeat(agent, {
    gateway: {
      state: 'running',
      ready: true,
      serviceUrl: gatewayServiceUrl(agent.agentId),
      tableVersion: 1,
      image: 'tunnelfleet/agent:test',
    },
    ...(gatewayTraffic === undefined ? {} : { gatewayTraffic }),
  });
}

/** The value of one sample of the master's `/metrics`; undefined when the series is absent. */
async function sample(fx: MasterFixture, name: string, labels: Record<string, string>) {
  const text = String((await fx.request('GET', '/metrics')).body);
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && wanted.every((label) => l.includes(label)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Everything the emulator holds for one hostname, serialised. */
function hostnameState(fx: MasterFixture, hostname: string): string {
  const rules = fx.emulator
    .tunnels()
    .map(
      (tunnel) =>
        fx.emulator.tunnelConfig(String(tunnel.id))?.config as { ingress?: { hostname?: string }[] },
    )
    .flatMap((config) => (config?.ingress ?? []).filter((rule) => rule.hostname === hostname));
  return JSON.stringify({
    records: fx.emulator.dnsRecords().filter((record) => (record as { name: string }).name === hostname),
    rules,
  });
}

/** Enrols an agent whose ready gateway carries a wake route for `hostname`; resolves its route id once published. */
async function publishedWakeRoute(fx: MasterFixture, name: string, hostname: string) {
  const agent = await fx.enrollAgent({ name });
  await heartbeat(fx, agent);
  const report = await fx.reportSnapshot(agent, 1, [
    container(name, webLabels(hostname, { 'tunnelfleet.wake': 'true' })),
  ]);
  expect(report.status).toBe(200);
  const routeId = await waitFor(
    async () => {
      const { body } = await fx.admin('GET', `/routes?agentId=${agent.agentId}`);
      const route = (body.routes as { id: number; status: string }[])[0];
      return route?.status === 'active' && hostnameState(fx, hostname).includes(hostname)
        ? route.id
        : undefined;
    },
    { description: `${hostname} published through the gateway`, timeoutMs: 20_000 },
  );
  return { agent, routeId };
}

describe("the gateways' per-route traffic at the master", () => {
  it('exposes what an agent forwards for its own routes in /metrics and GET /routes/:id, monotonic across gateway restarts', async () => {
    const fx = fixture();
    const hostname = 'traffic.example.com';
    const { agent, routeId } = await publishedWakeRoute(fx, 'traffic-host', hostname);
    const labels = { agent: agent.agentId, hostname, route: String(routeId) };
    const first: GatewayTraffic = {
      startedAt: 1_000,
      routes: [gatewayRouteTraffic(`route-${routeId}`, { ok: 7, errors: 1, wakes: 1, idleStops: 1 })],
    };
    expect((await heartbeat(fx, agent, first)).status).toBe(200);

    expect(await sample(fx, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' })).toBe(
      7,
    );
    expect(await sample(fx, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '5xx' })).toBe(
      1,
    );
    // Classes the route never answered cost no series.
    expect(
      await sample(fx, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '4xx' }),
    ).toBeUndefined();
    expect(await sample(fx, 'tunnelfleet_gateway_request_duration_seconds_count', labels)).toBe(8);
    expect(
      await sample(fx, 'tunnelfleet_gateway_request_duration_seconds_bucket', { ...labels, le: '0.005' }),
    ).toBe(8);
    expect(
      await sample(fx, 'tunnelfleet_gateway_request_duration_seconds_bucket', { ...labels, le: '+Inf' }),
    ).toBe(8);
    expect(await sample(fx, 'tunnelfleet_gateway_wakes_total', { ...labels, result: 'ready' })).toBe(1);
    expect(await sample(fx, 'tunnelfleet_gateway_wake_duration_seconds_sum', labels)).toBe(1.5);
    expect(await sample(fx, 'tunnelfleet_gateway_idle_stops_total', labels)).toBe(1);
    const text = String((await fx.request('GET', '/metrics')).body);
    expect(text).toContain('# TYPE tunnelfleet_gateway_request_duration_seconds histogram');

    const detail = await fx.admin('GET', `/routes/${routeId}`);
    expect(detail.body.detail.traffic).toMatchObject({
      requests: 8,
      requestsByStatusClass: { '2xx': 7, '5xx': 1 },
      wakes: 1,
      idleStops: 1,
    });

    // The gateway restarts (another start): its counters begin again, the master's totals go on.
    const restarted: GatewayTraffic = {
      startedAt: 2_000,
      routes: [gatewayRouteTraffic(`route-${routeId}`, { ok: 2 })],
    };
    expect((await heartbeat(fx, agent, restarted)).status).toBe(200);
    expect(await sample(fx, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' })).toBe(
      9,
    );
    expect(await sample(fx, 'tunnelfleet_gateway_idle_stops_total', labels)).toBe(1);
    // More of the same process: added once, not again.
    const more: GatewayTraffic = {
      startedAt: 2_000,
      routes: [gatewayRouteTraffic(`route-${routeId}`, { ok: 5 })],
    };
    expect((await heartbeat(fx, agent, more)).status).toBe(200);
    expect(await sample(fx, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' })).toBe(
      12,
    );
    // A heartbeat without traffic (nothing changed) leaves the totals as they are.
    expect((await heartbeat(fx, agent)).status).toBe(200);
    expect(await sample(fx, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' })).toBe(
      12,
    );
  });

  it("ignores an agent's numbers for another agent's route: the victim's numbers and its state at the emulator are unchanged", async () => {
    const fx = fixture();
    const victimHost = 'victim-traffic.example.com';
    const { agent: victim, routeId } = await publishedWakeRoute(fx, 'victim', victimHost);
    const victimLabels = { agent: victim.agentId, hostname: victimHost, route: String(routeId) };
    expect(
      (
        await heartbeat(fx, victim, {
          startedAt: 5,
          routes: [gatewayRouteTraffic(`route-${routeId}`, { ok: 3, wakes: 1 })],
        })
      ).status,
    ).toBe(200);
    // What anyone can see of the victim's route: its series, its view, its objects at the emulator.
    const victimView = async () => ({
      metrics: String((await fx.request('GET', '/metrics')).body)
        .split('\n')
        .filter((line) => line.includes(victimHost)),
      traffic: (await fx.admin('GET', `/routes/${routeId}`)).body.detail.traffic,
      cloud: hostnameState(fx, victimHost),
    });
    const before = await victimView();
    expect(
      await sample(fx, 'tunnelfleet_gateway_requests_total', { ...victimLabels, status_class: '2xx' }),
    ).toBe(3);

    // The attacker reports huge numbers for the victim's route (by its gateway route id), and a
    // new "gateway start" that would make the master fold the victim's totals.
    const { agent: attacker } = await publishedWakeRoute(fx, 'attacker', 'attacker-traffic.example.com');
    const forged: GatewayTraffic = {
      startedAt: 9_999,
      routes: [
        gatewayRouteTraffic(`route-${routeId}`, {
          ok: 1_000_000,
          errors: 1_000_000,
          wakes: 500,
          idleStops: 500,
        }),
      ],
    };
    expect((await heartbeat(fx, attacker, forged)).status).toBe(200);

    expect(await victimView()).toEqual(before);
    // Nothing was counted under the attacker's name for that route or hostname either.
    const text = String((await fx.request('GET', '/metrics')).body);
    expect(text).not.toMatch(new RegExp(`agent="${attacker.agentId}"[^\\n]*hostname="${victimHost}"`));
    expect(text).not.toMatch(new RegExp(`agent="${attacker.agentId}"[^\\n]*route="${routeId}"`));
  });

  it('refuses traffic that fails the schema, naming the field, and takes nothing of it', async () => {
    const fx = fixture();
    const hostname = 'bad-traffic.example.com';
    const { agent, routeId } = await publishedWakeRoute(fx, 'bad-traffic', hostname);
    const labels = { agent: agent.agentId, hostname, route: String(routeId) };
    const bad = [
      // Buckets that go down.
      {
        startedAt: 1,
        routes: [
          {
            ...gatewayRouteTraffic(`route-${routeId}`, { ok: 4 }),
            latency: { sum: 1, buckets: [4, 3, 4, 4, 4, 4] },
          },
        ],
      },
      // A bucket above the requests counted.
      {
        startedAt: 1,
        routes: [
          {
            ...gatewayRouteTraffic(`route-${routeId}`, { ok: 4 }),
            latency: { sum: 1, buckets: [9, 9, 9, 9, 9, 9] },
          },
        ],
      },
      // A negative counter, a fraction, and a number beyond the safe integers.
      { startedAt: 1, routes: [{ ...gatewayRouteTraffic(`route-${routeId}`, { ok: 4 }), wakes: -1 }] },
      { startedAt: 1, routes: [{ ...gatewayRouteTraffic(`route-${routeId}`, { ok: 4 }), idleStops: 0.5 }] },
      {
        startedAt: 1,
        routes: [{ ...gatewayRouteTraffic(`route-${routeId}`, { ok: 4 }), requests: [0, 2 ** 60, 0, 0, 0] }],
      },
      // More routes than a heartbeat may carry.
      {
        startedAt: 1,
        routes: Array.from({ length: 101 }, () => gatewayRouteTraffic(`route-${routeId}`, { ok: 4 })),
      },
      // A field the protocol does not know.
      { startedAt: 1, routes: [{ ...gatewayRouteTraffic(`route-${routeId}`, { ok: 4 }), path: '/' }] },
    ];
    for (const traffic of bad) {
      const answer = await heartbeat(fx, agent, traffic);
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body.error)).toContain('gatewayTraffic');
    }
    expect(
      await sample(fx, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' }),
    ).toBeUndefined();
  });
});
