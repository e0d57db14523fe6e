import type { RouteStatus } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { useTempStore } from '../../test/temp-store.js';
import { listAudit } from '../store/audit-log.js';
import { listConflicts } from '../store/conflicts.js';
import { insertRoute, listRoutes, type RouteRecord, updateRoute } from '../store/routes.js';
import { resolveClaims } from './claims.js';
import {
  listRetainedRoutes,
  newRetainedRouteId,
  type RetainedRoute,
  saveRetainedRoutes,
} from './retained-routes.js';

const NOW = new Date('2026-12-04T12:00:00.000Z');
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();
const HOST = 'app.example.com';

const db = useTempStore({ agents: ['ag_a', 'ag_b', 'ag_c'] });

/** A route of `agent` that wants HOST (at `path`) since `claimedAt`. */
function claim(
  agent: string,
  claimedAt: string,
  extra: { path?: string; status?: RouteStatus; container?: string } = {},
) {
  const container = extra.container ?? `${agent}-web`;
  return insertRoute(
    db(),
    {
      agentId: agent,
      identity: `container:${container}`,
      containerId: container,
      containerName: container,
      replicas: 1,
      replaced: [],
      routeKey: extra.path ?? 'default',
      hostname: HOST,
      path: extra.path ?? '',
      service: 'http://web:80',
      zone: 'example.com',
      tunnelName: null,
      spec: { dns: true, cleanup: true },
      status: extra.status ?? 'active',
      statusMessage: null,
      problems: [],
      deleteAfter: null,
      claimedAt,
    },
    claimedAt,
  );
}

const routeOf = (id: number) => listRoutes(db()).find((r) => r.id === id)!;
const openConflicts = () => listConflicts(db());

describe('resolveClaims', () => {
  it('lets the earliest claim keep a hostname; a later one is a conflict naming the holder', () => {
    const late = claim('ag_b', minutesAgo(1));
    const early = claim('ag_a', minutesAgo(5));
    resolveClaims(db(), [HOST], NOW);

    expect(routeOf(early).status).toBe('active');
    expect(routeOf(late).status).toBe('conflict');
    expect(routeOf(late).statusMessage).toContain(
      `hostname ${HOST} (every path of it) is held by agent ag_a`,
    );
    expect(openConflicts()).toEqual([
      expect.objectContaining({
        kind: 'hostname_claimed',
        hostname: HOST,
        routeId: late,
        holderRouteId: early,
      }),
    ]);
  });

  it("gives every path of a hostname to the agent holding it: another agent's path is a conflict", () => {
    const root = claim('ag_a', minutesAgo(5));
    const admin = claim('ag_b', minutesAgo(1), { path: '^/admin' });
    resolveClaims(db(), [HOST], NOW);
    expect([routeOf(root).status, routeOf(admin).status]).toEqual(['active', 'conflict']);
    expect(openConflicts().map((c) => [c.routeId, c.holderRouteId, c.path])).toEqual([
      [admin, root, '^/admin'],
    ]);
  });

  it('lets routes of the holding agent on different paths each hold their own', () => {
    const root = claim('ag_a', minutesAgo(5));
    const api = claim('ag_a', minutesAgo(1), { path: '/api' });
    const apiAgain = claim('ag_a', minutesAgo(0.5), { path: '/api', container: 'ag_a-api2' });
    resolveClaims(db(), [HOST], NOW);
    expect([routeOf(root).status, routeOf(api).status, routeOf(apiAgain).status]).toEqual([
      'active',
      'active',
      'conflict',
    ]);
    expect(routeOf(apiAgain).statusMessage).toContain('with path "/api" is already held by container');
  });

  it('hands the hostname to the next claimant once the holder’s grace period ran out', () => {
    const holder = claim('ag_a', minutesAgo(5));
    const next = claim('ag_b', minutesAgo(3));
    const last = claim('ag_c', minutesAgo(1));
    resolveClaims(db(), [HOST], NOW);
    const stopped = routeOf(holder);
    updateRoute(
      db(),
      holder,
      { ...stopped, status: 'pending_deletion', deleteAfter: minutesAgo(0.5) },
      NOW.toISOString(),
    );
    resolveClaims(db(), [HOST], NOW);

    expect(routeOf(next).status).toBe('active');
    expect(routeOf(next).statusMessage).toBeNull();
    expect(routeOf(last).status).toBe('conflict');
    expect(openConflicts().map((c) => [c.routeId, c.holderRouteId])).toEqual([[last, next]]);
  });

  it('keeps the hostname for a stopped holder inside its grace period', () => {
    const holder = claim('ag_a', minutesAgo(5));
    const next = claim('ag_b', minutesAgo(1));
    const stopped: RouteRecord = routeOf(holder);
    updateRoute(
      db(),
      holder,
      { ...stopped, status: 'pending_deletion', deleteAfter: '2026-12-04T12:05:00.000Z' },
      NOW.toISOString(),
    );
    resolveClaims(db(), [HOST], NOW);
    expect(routeOf(holder).status).toBe('pending_deletion');
    expect(routeOf(next).status).toBe('conflict');
  });

  it('records the conflict of a stopped latecomer without calling it active or conflict', () => {
    claim('ag_a', minutesAgo(5));
    const late = claim('ag_b', minutesAgo(1), { status: 'pending_deletion' });
    const stopped = routeOf(late);
    updateRoute(db(), late, { ...stopped, deleteAfter: '2026-12-04T12:05:00.000Z' }, NOW.toISOString());
    resolveClaims(db(), [HOST], NOW);
    expect(routeOf(late).status).toBe('pending_deletion');
    expect(openConflicts().map((c) => c.routeId)).toEqual([late]);
  });

  it('gives a hostname kept for a cleanup=false route that is gone to the route that claims it now', () => {
    const retained = (hostname: string): RetainedRoute => ({
      id: newRetainedRouteId(),
      agentId: 'ag_c',
      containerName: 'old',
      hostname,
      path: '',
      service: 'http://old:80',
      zone: 'example.com',
      tunnelId: 'tunnel-c',
      spec: { dns: true, cleanup: false },
      retainedAt: minutesAgo(60),
    });
    saveRetainedRoutes(db(), [retained(HOST), retained('wiki.example.com')]);
    claim('ag_a', minutesAgo(1));
    resolveClaims(db(), [HOST], NOW);
    expect(listRetainedRoutes(db()).map((r) => r.hostname)).toEqual(['wiki.example.com']);
    expect(listAudit(db(), { limit: 10, action: 'route.retained.replace' }).entries).toEqual([
      expect.objectContaining({ actor: 'system', details: { agentId: 'ag_c', hostname: HOST, path: '' } }),
    ]);
  });
});
