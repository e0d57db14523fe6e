import { PROTOCOL_LIMITS } from '@tunnelfleet/common';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { useGatewayHarness } from '../../test/gateway-harness.js';
import type { Gateway } from '../gateway/gateway.js';
import { createGatewayTrafficFeed, readGatewayTraffic } from './gateway-traffic.js';

const { gateway, backend, push, get, metrics } = useGatewayHarness();
const logger = pino({ level: 'silent' });

/** A gateway with a route `route-<i>` to one backend for each hostname `h<i>.example.com`. */
async function gatewayWithRoutes(count: number): Promise<Gateway> {
  const gw = await gateway();
  const app = await backend('app');
  await push(gw, {
    version: 1,
    routes: Array.from({ length: count }, (_, i) => ({
      id: `route-${i + 1}`,
      hostname: `h${i + 1}.example.com`,
      backend: { url: app.url },
    })),
  });
  return gw;
}

const readText = (gw: Gateway) => async () => (await metrics(gw)).text;

describe("reading the gateway's /metrics", () => {
  it('gives each route its requests by status class, latency buckets, and the start of the process', async () => {
    const before = Date.now();
    const gw = await gatewayWithRoutes(2);
    for (const path of ['/', '/a', '/b', '/status/404']) await get(gw, 'h1.example.com', path);
    await get(gw, 'h2.example.com');
    await get(gw, 'unknown.example.com');

    const read = readGatewayTraffic((await metrics(gw)).text);
    expect(read?.startedAt).toBeGreaterThanOrEqual(before - 1);
    expect(read?.startedAt).toBeLessThanOrEqual(Date.now());
    const byRoute = new Map(read?.routes.map((route) => [route.route, route]));
    // Requests no route matched are the gateway's own business: not a route of the master's.
    expect([...byRoute.keys()].sort()).toEqual(['route-1', 'route-2']);
    const first = byRoute.get('route-1')!;
    expect(first.requests).toEqual([0, 3, 0, 1, 0]);
    // Cumulative, and a loopback answer takes well under 10 s: the last bucket holds them all.
    expect(first.latency.buckets.at(-1)).toBe(4);
    expect([...first.latency.buckets].sort((a, b) => a - b)).toEqual(first.latency.buckets);
    expect(first.latency.sum).toBeGreaterThan(0);
    expect(first).toMatchObject({ wakes: 0, wakeSeconds: 0, wakeTimeouts: 0, idleStops: 0 });
    expect(byRoute.get('route-2')?.requests).toEqual([0, 1, 0, 0, 0]);
  });

  it("is nothing for a text that is not a gateway's", () => {
    expect(readGatewayTraffic('build_info{version="2023.7.3"} 1\n')).toBeUndefined();
  });
});

describe('the traffic sent with the heartbeats', () => {
  it('carries only the routes whose numbers changed since the master took them', async () => {
    const gw = await gatewayWithRoutes(2);
    await get(gw, 'h1.example.com');
    await get(gw, 'h2.example.com');
    const feed = createGatewayTrafficFeed({ read: readText(gw), logger });
    // The first heartbeat starts the first read; the next one carries it.
    expect(feed.next()).toBeUndefined();
    await feed.settled();
    const first = feed.next();
    expect(first?.routes.map((route) => route.route).sort()).toEqual(['route-1', 'route-2']);
    feed.sent(first!);

    await feed.settled();
    expect(feed.next()).toBeUndefined();
    // One more request for h2: the next heartbeat but one carries route-2 alone.
    await get(gw, 'h2.example.com');
    await feed.settled();
    feed.next();
    await feed.settled();
    const changed = feed.next();
    expect(changed?.routes.map((route) => route.route)).toEqual(['route-2']);
    expect(changed?.routes[0]?.requests[1]).toBe(2);
    // Not taken (the heartbeat failed): carried again.
    await feed.settled();
    expect(feed.next()?.routes.map((route) => route.route)).toEqual(['route-2']);
  });

  it('sends every route again after a while, for a master that restarted', async () => {
    const gw = await gatewayWithRoutes(1);
    await get(gw, 'h1.example.com');
    let clock = 0;
    const feed = createGatewayTrafficFeed({
      read: readText(gw),
      logger,
      resendAfterMs: 60_000,
      now: () => clock,
    });
    feed.next();
    await feed.settled();
    feed.sent(feed.next()!);
    await feed.settled();
    expect(feed.next()).toBeUndefined();
    clock = 60_000;
    await feed.settled();
    expect(feed.next()?.routes.map((route) => route.route)).toEqual(['route-1']);
  });

  it('carries at most the protocol limit of routes a heartbeat, the rest in the next', async () => {
    const limit = PROTOCOL_LIMITS.gatewayTrafficRoutes;
    const gw = await gatewayWithRoutes(limit + 20);
    for (let i = 1; i <= limit + 20; i++) await get(gw, `h${i}.example.com`);
    const feed = createGatewayTrafficFeed({ read: readText(gw), logger });
    feed.next();
    await feed.settled();
    const first = feed.next()!;
    expect(first.routes).toHaveLength(limit);
    feed.sent(first);
    await feed.settled();
    const rest = feed.next()!;
    expect(rest.routes).toHaveLength(20);
    const all = new Set([...first.routes, ...rest.routes].map((route) => route.route));
    expect(all.size).toBe(limit + 20);
  });

  it('says nothing while no gateway is ready, and survives a gateway that does not answer', async () => {
    const feed = createGatewayTrafficFeed({ read: async () => undefined, logger });
    feed.next();
    await feed.settled();
    expect(feed.next()).toBeUndefined();
    const failing = createGatewayTrafficFeed({
      read: () => Promise.reject(new Error('connection refused')),
      logger,
    });
    failing.next();
    await failing.settled();
    expect(failing.next()).toBeUndefined();
  });
});
