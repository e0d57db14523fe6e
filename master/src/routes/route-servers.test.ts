import { describe, expect, it } from 'vitest';
import type { RouteRecord } from '../store/routes.js';
import { assignServers, type ServerCandidate } from './route-servers.js';

const AT = '2026-12-04T12:00:00.000Z';

function row(id: number, containerId: string, identity: string, claimedAt = AT): RouteRecord {
  return {
    id,
    agentId: 'ag',
    identity,
    containerId,
    containerName: containerId,
    replicas: 1,
    replaced: [],
    routeKey: 'default',
    hostname: 'shop.example.com',
    path: '',
    service: 'http://web:80',
    zone: 'example.com',
    tunnelName: null,
    spec: {},
    status: 'active',
    statusMessage: null,
    problems: [],
    deleteAfter: null,
    claimedAt,
    createdAt: AT,
    updatedAt: AT,
  };
}

const candidate = (containerId: string, identity: string, containerName = containerId): ServerCandidate => ({
  identity,
  containerId,
  containerName,
  routeKey: 'default',
});

const WEB = 'compose:shop/web';

describe('assignServers', () => {
  it('keeps a container on its own row, even when its identity changed (a rename)', () => {
    const own = row(1, 'c1', 'container:web');
    const plan = assignServers([candidate('c1', 'container:web2')], [own], new Set(['container:web2']));
    expect(plan.assignments).toEqual([
      { server: candidate('c1', 'container:web2'), existing: own, replicas: 1 },
    ]);
    expect(plan.orphans).toEqual([]);
  });

  it('hands the row of a gone container to a new one of its identity', () => {
    const old = row(1, 'old', WEB);
    const plan = assignServers([candidate('new', WEB)], [old], new Set([WEB]));
    expect(plan.assignments).toEqual([{ server: candidate('new', WEB), existing: old, replicas: 1 }]);
    expect(plan.orphans).toEqual([]);
  });

  it('lets the replica that already serves keep serving, else the first by name', () => {
    const serving = row(1, 'b', WEB);
    const replicas = [candidate('a', WEB, 'shop-web-1'), candidate('b', WEB, 'shop-web-2')];
    expect(assignServers(replicas, [serving], new Set([WEB])).assignments[0]?.server.containerId).toBe('b');
    expect(assignServers(replicas, [], new Set([WEB])).assignments).toEqual([
      { server: replicas[0], existing: undefined, replicas: 2 },
    ]);
  });

  it('ends the rows replicas had of their own before identities, keeping the earliest claim', () => {
    const holder = row(1, 'a', WEB, '2026-12-04T11:00:00.000Z');
    const loser = row(2, 'b', WEB, '2026-12-04T11:30:00.000Z');
    const plan = assignServers([candidate('b', WEB), candidate('a', WEB)], [loser, holder], new Set([WEB]));
    expect(plan.assignments).toEqual([{ server: candidate('a', WEB), existing: holder, replicas: 2 }]);
    expect(plan.orphans).toEqual([{ route: loser, succeeded: true }]);
  });

  it('leaves a row to its grace period when nothing of its identity runs any more', () => {
    const stopped = row(1, 'c1', 'container:web');
    const plan = assignServers([candidate('c2', 'container:other')], [stopped], new Set(['container:other']));
    expect(plan.orphans).toEqual([{ route: stopped, succeeded: false }]);
    expect(plan.assignments[0]?.existing).toBeUndefined();
  });
});
