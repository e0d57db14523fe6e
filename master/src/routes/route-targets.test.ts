import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { insertAgentKey } from '../store/agent-keys.js';
import { insertAgent } from '../store/agents.js';
import { openConflict } from '../store/conflicts.js';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { insertRoute, listRoutes, type RouteRecord } from '../store/routes.js';
import {
  addSharedTunnelMember,
  insertSharedTunnel,
  removeSharedTunnelMember,
} from '../store/shared-tunnels.js';
import { markTunnelDeleted, upsertTunnel } from '../store/tunnels.js';
import type { Reach, ROUTE_SPEC_REACH, RouteSpec } from './route-spec.js';
import {
  cloudFingerprint,
  type ROUTE_COLUMN_REACH,
  routeTargets,
  tunnelLabelProblem,
} from './route-targets.js';

/** The keys a reach table marks `cloud` (or `local`): a test table typed with it must list each. */
type KeysOf<T extends Record<string, Reach>, R extends Reach> = {
  [K in keyof T]: T[K] extends R ? K : never;
}[keyof T];

const NOW = new Date('2026-12-04T12:00:00.000Z');
const LATER = '2026-12-04T12:10:00.000Z';

let dir: string;
let db: SqliteDatabase;
let route: RouteRecord;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-route-targets-'));
  db = openDatabase(dir);
  for (const agentId of ['ag_a', 'ag_b']) {
    insertAgentKey(db, {
      id: `key_${agentId}`,
      name: agentId,
      secretHash: 'x',
      hostnameAllowlist: [],
      allowAnyHostname: true,
      autoApprove: true,
    });
    insertAgent(db, {
      id: agentId,
      keyId: `key_${agentId}`,
      name: agentId,
      hostname: null,
      agentVersion: null,
    });
    upsertTunnel(db, { id: `tunnel-${agentId}`, name: `tf-${agentId}`, accountId: 'acc', agentId });
  }
  upsertTunnel(db, { id: 'tunnel-shared', name: 'shared', accountId: 'acc', agentId: null });
  const id = insertRoute(
    db,
    {
      agentId: 'ag_a',
      identity: 'container:web',
      containerId: 'c1',
      containerName: 'web',
      replicas: 1,
      replaced: [],
      routeKey: 'default',
      hostname: 'app.example.com',
      path: '',
      service: 'http://web:80',
      zone: 'example.com',
      tunnelName: null,
      spec: { dns: true, cleanup: true, source: 'tunnelfleet', originRequest: {} },
      status: 'active',
      statusMessage: null,
      problems: [],
      deleteAfter: null,
      claimedAt: NOW.toISOString(),
    },
    NOW.toISOString(),
  );
  route = listRoutes(db).find((r) => r.id === id)!;
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const print = (r: RouteRecord) => cloudFingerprint(db, r, NOW);
const withSpec = (spec: Partial<RouteSpec>): RouteRecord => ({
  ...route,
  spec: { ...(route.spec as RouteSpec), ...spec },
});

describe('cloudFingerprint', () => {
  it('changes with every column Cloudflare carries', () => {
    const changed: { [K in KeysOf<typeof ROUTE_COLUMN_REACH, 'cloud'>]: RouteRecord[K] } = {
      agentId: 'ag_b',
      hostname: 'www.example.com',
      path: '/api',
      service: 'http://web:8080',
      zone: 'example.net',
      tunnelName: 'shared',
      spec: { dns: false, cleanup: true },
    };
    for (const [column, value] of Object.entries(changed)) {
      expect(print({ ...route, [column]: value }), column).not.toBe(print(route));
    }
  });

  it('changes with every spec field Cloudflare carries', () => {
    const changed: { [K in KeysOf<typeof ROUTE_SPEC_REACH, 'cloud'>]-?: RouteSpec[K] } = {
      originRequest: { noTLSVerify: true },
      access: { namedPolicies: ['staff'] },
      dns: false,
      wake: { startTimeoutSeconds: 60, idleTimeoutSeconds: 0, dependsOn: [], redirectPath: '/' },
      l7: { match: { method: 'POST' } },
    };
    for (const [field, value] of Object.entries(changed)) {
      expect(print(withSpec({ [field]: value })), field).not.toBe(print(route));
    }
  });

  it('stays the same when only what the master alone reads changes', () => {
    const columns: Omit<
      { [K in KeysOf<typeof ROUTE_COLUMN_REACH, 'local'>]: RouteRecord[K] },
      // These two decide whether Cloudflare carries the route at all: tested below.
      'status' | 'deleteAfter'
    > = {
      id: route.id + 100,
      identity: 'compose:shop/web',
      containerId: 'c2',
      containerName: 'web-renamed',
      replicas: 3,
      replaced: [{ containerId: 'c1', containerName: 'web', replacedAt: LATER }],
      routeKey: 'api',
      statusMessage: 'a message',
      problems: [{ severity: 'warning', message: 'a warning' }],
      claimedAt: LATER,
      createdAt: LATER,
      updatedAt: LATER,
    };
    for (const [column, value] of Object.entries(columns)) {
      expect(print({ ...route, [column]: value }), column).toBe(print(route));
    }
    const fields: { [K in KeysOf<typeof ROUTE_SPEC_REACH, 'local'>]-?: RouteSpec[K] } = {
      source: 'dockflare',
      public: true,
      cleanup: false,
      zoneLabel: 'example.com',
    };
    for (const [field, value] of Object.entries(fields)) {
      expect(print(withSpec({ [field]: value })), field).toBe(print(route));
    }
  });

  it("changes when the agent's own tunnel is deleted", () => {
    const before = print(route);
    markTunnelDeleted(db, 'tunnel-ag_a');
    expect(print(route)).not.toBe(before);
  });

  it('is the same for a stopped container inside its grace period, so a restart needs no sync', () => {
    const stopped: RouteRecord = { ...route, status: 'pending_deletion', deleteAfter: LATER };
    expect(print(stopped)).toBe(print(route));
    expect(cloudFingerprint(db, stopped, new Date(LATER))).toBeNull();
  });

  it('is null for a route Cloudflare must not carry: invalid, revoked, or lost its hostname', () => {
    expect(print({ ...route, status: 'invalid' })).toBeNull();
    expect(print({ ...route, status: 'revoked' })).toBeNull();
    openConflict(
      db,
      {
        kind: 'hostname_claimed',
        hostname: 'app.example.com',
        path: '',
        routeId: route.id,
        holderRouteId: null,
        message: 'held by another route',
      },
      NOW.toISOString(),
    );
    expect(print({ ...route, status: 'conflict' })).toBeNull();
  });
});

describe('routeTargets', () => {
  it('names the agent’s tunnel, the zone of its DNS record and, with Access, the account’s apps', () => {
    expect(routeTargets(db, route)).toEqual(['tunnel:tunnel-ag_a', 'zone:example.com']);
    expect(routeTargets(db, withSpec({ access: { namedPolicies: ['staff'] } }))).toEqual([
      'tunnel:tunnel-ag_a',
      'zone:example.com',
      'access',
    ]);
  });

  it("names the agent's own tunnel when the tunnel label names it, and no zone when DNS is not managed", () => {
    expect(routeTargets(db, { ...withSpec({ dns: false }), tunnelName: 'tf-ag_a' })).toEqual([
      'tunnel:tunnel-ag_a',
    ]);
  });

  it("names no tunnel at all when the tunnel label names another agent's tunnel or an admin's", () => {
    for (const tunnelName of ['tf-ag_b', 'shared']) {
      expect(routeTargets(db, { ...withSpec({ dns: false }), tunnelName })).toEqual([]);
    }
  });
  it('names a shared tunnel only for a member agent, and says why for anyone else', () => {
    insertSharedTunnel(db, { name: 'shared', tunnelId: 'tunnel-shared', createdAt: LATER });
    addSharedTunnelMember(db, { tunnelName: 'shared', agentId: 'ag_b', addedAt: LATER });
    const named = { ...withSpec({ dns: false }), tunnelName: 'shared' };
    expect(routeTargets(db, named)).toEqual([]);
    expect(tunnelLabelProblem(db, 'ag_a', 'shared')).toContain(
      'is a shared tunnel this agent is not a member of',
    );
    addSharedTunnelMember(db, { tunnelName: 'shared', agentId: 'ag_a', addedAt: LATER });
    expect(routeTargets(db, named)).toEqual(['tunnel:tunnel-shared']);
    expect(tunnelLabelProblem(db, 'ag_a', 'shared')).toBeUndefined();
    removeSharedTunnelMember(db, 'shared', 'ag_a');
    expect(routeTargets(db, named)).toEqual([]);
    // Another agent's own tunnel stays closed, shared tunnels or not.
    expect(tunnelLabelProblem(db, 'ag_a', 'tf-ag_b')).toContain("is not this agent's tunnel");
  });
});
