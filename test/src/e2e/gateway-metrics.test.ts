import type { GatewayTraffic } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { GATEWAY_TEST_IMAGE } from '../harness/gateway-image.js';
import { gatewayRouteTraffic } from '../harness/gateway-traffic.js';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet } from '../system/fleet.js';
import { gatewayAddress, hostnameState, throughGateway, useGatewayImage } from './gateway-support.js';
import {
  attacker,
  CONVERGE_TIMEOUT_MS,
  publishLabels,
  routesOf,
  uniqueHostname,
  useFleet,
  waitPublished,
} from './support.js';

// Built before the fleet starts, on the main engine, where host A's agent runs it.
const gatewayVolumeOf = useGatewayImage();

// Host A runs the gateway (a second engine drops traffic between its containers: see gateway.test.ts).
const fleet = useFleet({
  secondEngine: 'docker35',
  hostEnv: { a: { GATEWAY_IMAGE: GATEWAY_TEST_IMAGE } },
});

/** The master's `/metrics` lines of one series name whose labels include `labels`. */
async function masterSamples(f: Fleet, name: string, labels: Record<string, string>): Promise<number[]> {
  const text = await (await fetch(`${f.master.url}/metrics`)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && wanted.every((label) => line.includes(label)))
    .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
}

/** Waits until the master's sample is `value` (agents forward the gateway's numbers with their heartbeats). */
async function waitSample(f: Fleet, name: string, labels: Record<string, string>, value: number) {
  let last: number[] = [];
  await waitFor(
    async () => {
      last = await masterSamples(f, name, labels);
      return last.length === 1 && last[0] === value;
    },
    {
      description: `${name} ${JSON.stringify(labels)} = ${value} at the master`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last seen ${JSON.stringify(last)}`);
  });
}

/** Requests through host A's gateway until one is answered 200 (its table pushed); then `more` more. */
async function served(address: string, hostname: string, more: number): Promise<number> {
  await waitFor(
    async () => (await throughGateway(address, hostname).catch(() => undefined))?.status === 200,
    { description: `${hostname} answered through the gateway`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
  for (let i = 0; i < more; i++) expect((await throughGateway(address, hostname)).status).toBe(200);
  return 1 + more;
}

describe("the gateway's per-route metrics at the master", { timeout: 300_000 }, () => {
  it("counts requests, the idle stop and the wake of host A's route in the master's /metrics and route view", async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    gatewayVolumeOf(agentId);
    const hostname = uniqueHostname('metrics');
    await f.a.runContainer({
      labels: publishLabels(hostname, { 'tunnelfleet.wake': 'true', 'tunnelfleet.idle_timeout': '3s' }),
    });
    await waitPublished(f, f.a, hostname);
    const [route] = await routesOf(f, hostname);
    const labels = { agent: agentId, hostname, route: String(route!.id) };
    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);

    // Requests answered 200 through the real gateway show up at the master, by status class.
    let ok = await served(address, hostname, 4);
    await waitSample(f, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' }, ok);
    expect(await masterSamples(f, 'tunnelfleet_gateway_request_duration_seconds_count', labels)).toEqual([
      ok,
    ]);

    // Idle for 3 s: the gateway has the agent stop it, and counts the idle stop.
    await waitFor(async () => (await routesOf(f, hostname))[0]?.wakeState === 'sleeping', {
      description: 'the route asleep after its idle timeout',
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    await waitSample(f, 'tunnelfleet_gateway_idle_stops_total', labels, 1);

    // A request wakes it: one wake, ready, with its duration.
    expect((await throughGateway(address, hostname)).status).toBe(200);
    ok += 1;
    await waitSample(f, 'tunnelfleet_gateway_wakes_total', { ...labels, result: 'ready' }, 1);
    await waitSample(f, 'tunnelfleet_gateway_wake_duration_seconds_count', labels, 1);
    await waitSample(f, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' }, ok);
    expect(
      (await masterSamples(f, 'tunnelfleet_gateway_wake_duration_seconds_sum', labels))[0],
    ).toBeGreaterThan(0);

    // The same numbers in the route's view.
    const detail = await f.admin.request('GET', `/routes/${route!.id}`);
    expect(detail.status).toBe(200);
    expect((detail.body as { detail: { traffic: unknown } }).detail.traffic).toMatchObject({
      requests: ok,
      requestsByStatusClass: { '2xx': ok },
      wakes: 1,
      wakeTimeouts: 0,
    });
  });

  it("ignores an attacker agent's numbers for host A's route: the victim's numbers and its objects at the emulator are unchanged", async () => {
    const f = fleet();
    const agentId = await f.a.agentId();
    const victim = uniqueHostname('metrics-victim');
    // Wakes on request, with the default idle timeout (an hour): nothing changes its numbers meanwhile.
    await f.a.runContainer({ labels: publishLabels(victim, { 'tunnelfleet.wake': 'true' }) });
    await waitPublished(f, f.a, victim);
    const [route] = await routesOf(f, victim);
    const labels = { agent: agentId, hostname: victim, route: String(route!.id) };
    const address = await gatewayAddress(f.a.docker, agentId, f.a.network);
    const ok = await served(address, victim, 1);
    await waitSample(f, 'tunnelfleet_gateway_requests_total', { ...labels, status_class: '2xx' }, ok);

    const victimLines = async () =>
      (await (await fetch(`${f.master.url}/metrics`)).text())
        .split('\n')
        .filter((line) => line.includes(`hostname="${victim}"`));
    const snapshot = async () => ({
      metrics: await victimLines(),
      traffic: (
        (await f.admin.request('GET', `/routes/${route!.id}`)).body as { detail: { traffic: unknown } }
      ).detail.traffic,
      cloud: hostnameState(f, victim),
    });
    const before = await snapshot();

    // The attacker forwards huge numbers for the victim's gateway route, from a "new gateway".
    const c = await attacker(f, 'attacker-metrics', [uniqueHostname('metrics-evil')]);
    const forged: GatewayTraffic = {
      startedAt: Date.now(),
      routes: [
        gatewayRouteTraffic(`route-${route!.id}`, {
          ok: 1_000_000,
          errors: 1_000_000,
          wakes: 1_000,
          wakeTimeouts: 1_000,
          idleStops: 1_000,
        }),
      ],
    };
    for (let i = 0; i < 3; i++) expect((await c.heartbeat({ gatewayTraffic: forged })).status).toBe(200);

    expect(await snapshot()).toEqual(before);
    const text = await (await fetch(`${f.master.url}/metrics`)).text();
    expect(text).not.toContain(`agent="${c.agentId}"`);
  });
});
