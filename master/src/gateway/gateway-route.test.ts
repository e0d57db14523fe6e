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

  it('maps anchored literal paths to prefix and exact matches', () => {
    const pathOf = (path: string) => {
      const translated = toGatewayRoute(route({ path }), { name: 'web' });
      return translated.ok ? translated.route.path : translated.reason;
    };
    expect(pathOf('^/api')).toEqual({ type: 'prefix', value: '/api' });
    expect(pathOf('^/api/')).toEqual({ type: 'prefix', value: '/api' });
    expect(pathOf('^/api$')).toEqual({ type: 'exact', value: '/api' });
    expect(pathOf('^/$')).toEqual({ type: 'exact', value: '/' });
  });

  it('refuses what the gateway cannot do exactly, rather than do it differently', () => {
    const reasonOf = (over: Partial<GatewayRouteSource>, spec: Partial<RouteSpec> = {}) => {
      const translated = toGatewayRoute(route(over, spec), { name: 'web' });
      return translated.ok ? 'accepted' : translated.reason;
    };
    expect(reasonOf({ path: '/api' })).toContain('regex the gateway cannot match');
    expect(reasonOf({ path: '^/(a|b)' })).toContain('regex the gateway cannot match');
    expect(reasonOf({ service: 'tcp://db:5432' })).toContain('is not an http:// or https:// origin');
    expect(reasonOf({}, { originRequest: { noTLSVerify: true, httpHostHeader: 'x' } })).toBe(
      'origin.httpHostHeader, origin.noTLSVerify cannot be applied through the gateway',
    );
    // Settings of cloudflared's own connection (now to the gateway) are fine.
    expect(reasonOf({}, { originRequest: { connectTimeout: 5 } })).toBe('accepted');
  });
});

describe('needsGateway', () => {
  it('is true for a route that wakes on request, false for a plain one', () => {
    expect(needsGateway({ wake })).toBe(true);
    expect(needsGateway({})).toBe(false);
  });
});
