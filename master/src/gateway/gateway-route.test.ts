import { routingTableSchema } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import type { RouteSpec } from '../routes/route-spec.js';
import { type GatewayRouteSource, needsGateway, toGatewayRoute } from './gateway-route.js';

const wake = { startTimeoutSeconds: 90, idleTimeoutSeconds: 3600, dependsOn: ['db'], redirectPath: '/home' };
const route = (
  over: Partial<GatewayRouteSource> = {},
  spec: Partial<RouteSpec> = {},
): GatewayRouteSource => ({
  id: 7,
  hostname: 'app.example.com',
  path: '',
  service: 'http://web:8080',
  spec: { dns: true, cleanup: true, wake, ...spec },
  ...over,
});

describe('toGatewayRoute', () => {
  it('refuses a route the gateway would refuse, naming the field, so one route never blocks the table', () => {
    const l7 = { match: { headers: [{ name: 'bad header', type: 'exact' as const, value: '1' }] } };
    expect(toGatewayRoute(route({}, { l7 }), { name: 'web-1' })).toEqual({
      ok: false,
      reason: 'invalid gateway route: match.headers[0].name: must be an HTTP header name',
    });
  });

  it('turns a wake route into the gateway route the gateway validates (seconds → ms, the container by name)', () => {
    const translated = toGatewayRoute(route({}, { wake: { ...wake, healthPath: '/health' } }), {
      name: 'web-1',
    });
    expect(translated).toEqual({
      ok: true,
      route: {
        id: 'route-7',
        hostname: 'app.example.com',
        path: { type: 'prefix', value: '/' },
        backend: { url: 'http://web:8080' },
        wake: {
          container: 'web-1',
          dependsOn: ['db'],
          startTimeoutMs: 90_000,
          idleTimeoutMs: 3_600_000,
          redirectPath: '/home',
          healthPath: '/health',
        },
      },
    });
    if (!translated.ok) return;
    expect(routingTableSchema.safeParse({ version: 1, routes: [translated.route] }).success).toBe(true);
  });

  it('carries the start and stop schedule to the gateway route, for the agent to act on', () => {
    const schedule = { start: '0 8 * * 1-5', stop: '0 20 * * *', timeZone: 'Europe/Paris' };
    const translated = toGatewayRoute(route({}, { wake: { ...wake, schedule } }), { name: 'web-1' });
    expect(translated.ok && translated.route.wake).toMatchObject({ container: 'web-1', schedule });
    if (!translated.ok) return;
    const table = routingTableSchema.parse({ version: 1, routes: [translated.route] });
    expect(table.routes[0]?.wake?.schedule).toEqual(schedule);
  });

  it('maps the path regex to the gateway match with the same meaning: exact, segment prefix, else the regex', () => {
    const pathOf = (path: string) => {
      const translated = toGatewayRoute(route({ path }), { name: 'web' });
      return translated.ok ? translated.route.path : translated.reason;
    };
    expect(pathOf('')).toEqual({ type: 'prefix', value: '/' });
    expect(pathOf('^/api$')).toEqual({ type: 'exact', value: '/api' });
    expect(pathOf('^/api(/|$)')).toEqual({ type: 'prefix', value: '/api' });
    // cloudflared's `^/api` also routes `/apis`: a segment prefix would be narrower, so it stays a regex.
    expect(pathOf('^/api')).toEqual({ type: 'regex', value: '^/api' });
    expect(pathOf('^/(a|b)')).toEqual({ type: 'regex', value: '^/(a|b)' });
  });

  it("carries the labels' matches, weight and filters as they are, in the gateway's own shape", () => {
    const l7 = {
      match: { method: 'POST', headers: [{ name: 'x-canary', type: 'exact' as const, value: '1' }] },
      weight: 10,
      filters: { requestHeaders: { set: [{ name: 'x-from', value: 'gateway' }] } },
    };
    const translated = toGatewayRoute(route({}, { wake: undefined, l7 } as Partial<RouteSpec>), {
      name: 'web',
    });
    if (!translated.ok) throw new Error(translated.reason);
    expect(translated.route).toMatchObject({ id: 'route-7', backend: { url: 'http://web:8080' }, ...l7 });
    expect(routingTableSchema.safeParse({ version: 1, routes: [translated.route] }).success).toBe(true);
  });

  it('refuses what the gateway cannot do exactly, rather than do it differently', () => {
    const reasonOf = (over: Partial<GatewayRouteSource>, spec: Partial<RouteSpec> = {}) => {
      const translated = toGatewayRoute(route(over, spec), { name: 'web' });
      return translated.ok ? 'accepted' : translated.reason;
    };
    expect(reasonOf({ service: 'tcp://db:5432' })).toContain('is not an http:// or https:// origin');
    expect(reasonOf({}, { originRequest: { noTLSVerify: true, httpHostHeader: 'x' } })).toBe(
      'origin.httpHostHeader, origin.noTLSVerify cannot be applied through the gateway',
    );
    // Settings of cloudflared's own connection (now to the gateway) are fine.
    expect(reasonOf({}, { originRequest: { connectTimeout: 5 } })).toBe('accepted');
  });
});

describe('needsGateway', () => {
  it('is true for a route that wakes on request or has routing labels, false for a plain one', () => {
    expect(needsGateway({ wake })).toBe(true);
    expect(needsGateway({ l7: { weight: 1 } })).toBe(true);
    expect(needsGateway({})).toBe(false);
  });
});
