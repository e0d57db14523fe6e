import { describe, expect, it } from 'vitest';
import { useTempStore } from '../../test/temp-store.js';
import type { RouteSpec } from '../routes/route-spec.js';
import { insertRoute, iterateRoutes, listRouteZones } from './routes.js';

const AT = '2026-12-05T12:00:00.000Z';

const db = useTempStore({ agents: ['ag_a'] });

let containers = 0;
function addRoute(route: { hostname: string | null; zone: string | null; spec?: RouteSpec }): number {
  containers += 1;
  return insertRoute(
    db(),
    {
      agentId: 'ag_a',
      identity: `container:web${containers}`,
      containerId: `c${containers}`,
      containerName: `web${containers}`,
      replicas: 1,
      replaced: [],
      problems: [],
      routeKey: 'default',
      hostname: route.hostname,
      path: '',
      service: route.hostname === null ? null : 'http://web:80',
      zone: route.zone,
      tunnelName: null,
      spec: route.spec ?? { dns: true, cleanup: true, source: 'tunnelfleet', originRequest: {} },
      status: route.hostname === null ? 'invalid' : 'active',
      statusMessage: null,
      deleteAfter: null,
      claimedAt: AT,
    },
    AT,
  );
}

describe('the zones the routes name', () => {
  it('lists each zone once, in order, whatever its routes are; a route without a zone names none', () => {
    for (const zone of ['b.example', 'a.example', 'c.example', 'a.example', 'b.example'])
      addRoute({ hostname: `app${containers}.${zone}`, zone });
    // An invalid route still names its zone: the caller decides what, if anything, is carried there.
    addRoute({ hostname: null, zone: 'invalid-only.example' });
    addRoute({ hostname: 'nowhere.test', zone: null });
    expect(listRouteZones(db())).toEqual(['a.example', 'b.example', 'c.example', 'invalid-only.example']);
  });

  it('is empty without routes', () => {
    expect(listRouteZones(db())).toEqual([]);
  });
});

describe('the routes that ask for Access', () => {
  it('are those whose spec has an access part; a spec that is not JSON asks none and breaks nothing', () => {
    const staff = addRoute({
      hostname: 'staff.example.com',
      zone: 'example.com',
      spec: {
        dns: true,
        cleanup: true,
        source: 'tunnelfleet',
        originRequest: {},
        access: { namedPolicies: ['staff'] },
      },
    });
    addRoute({ hostname: 'open.example.com', zone: 'example.com' });
    const garbled = addRoute({ hostname: 'garbled.example.com', zone: 'example.com' });
    // A hand-edited row: the index's expression must not fail on it, now or when it is written.
    db().prepare("UPDATE routes SET spec = 'not json' WHERE id = ?").run(garbled);
    expect([...iterateRoutes(db(), { asksAccess: true })].map((route) => route.id)).toEqual([staff]);
  });
});
