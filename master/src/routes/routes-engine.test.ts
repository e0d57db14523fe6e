import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container } from '@tunnelfleet/common';
import { type CloudflareEmulator, startCloudflareEmulator } from '@tunnelfleet/test';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { container, webLabels } from '../../test/reconciler-test-world.js';
import { type CloudflareLayer, createCloudflareLayer } from '../cloudflare/cloudflare-layer.js';
import { insertAgentKey } from '../store/agent-keys.js';
import { approveAgent, insertAgent } from '../store/agents.js';
import { listConflicts } from '../store/conflicts.js';
import { findContainer, markContainerRemoved, upsertContainer } from '../store/containers.js';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { upsertTunnel } from '../store/tunnels.js';
import { listRetainedRoutes } from './retained-routes.js';
import type { TargetChanges } from './route-targets.js';
import { routeTargets } from './route-targets.js';
import { createRoutesEngine, type RoutesEngine } from './routes-engine.js';

const GRACE_SECONDS = 600;

// Zone lookups go through the real Cloudflare layer to the emulator, which manages example.com.
let emulator: CloudflareEmulator;
let cloudflare: CloudflareLayer;
beforeAll(async () => {
  emulator = await startCloudflareEmulator();
  const account = emulator.createAccount('acme');
  emulator.createZone('example.com', account.id);
  cloudflare = createCloudflareLayer(
    {
      tokens: [],
      defaultToken: emulator.createToken({ accountIds: [account.id], zoneNames: 'all', name: 'default' }),
      accountId: account.id,
      baseURL: emulator.baseUrl,
    },
    pino({ level: 'silent' }),
  );
});
afterAll(() => emulator.close());

let dir: string;
let db: SqliteDatabase;
let clock: number;
let engine: RoutesEngine;
/** Every batch of targets the engine asked the reconciler to sync. */
let notified: TargetChanges[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-routes-engine-'));
  db = openDatabase(dir);
  clock = Date.parse('2026-12-04T12:00:00.000Z');
  notified = [];
  engine = createRoutesEngine({
    db,
    logger: pino({ level: 'silent' }),
    resolveZone: (hostname, zone) => cloudflare.resolveZone(hostname, zone),
    graceSeconds: GRACE_SECONDS,
    requireAccess: false,
    onTargetsChanged: (targets) => {
      notified.push(targets);
    },
    now: () => new Date(clock),
  });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An approved agent whose key allows `allowlist` (everything when empty), with its own tunnel. */
function addAgent(id: string, allowlist: string[] = []) {
  insertAgentKey(db, {
    id: `key_${id}`,
    name: id,
    secretHash: 'x',
    hostnameAllowlist: allowlist,
    allowAnyHostname: allowlist.length === 0,
    autoApprove: true,
  });
  insertAgent(db, { id, keyId: `key_${id}`, name: id, hostname: null, agentVersion: null });
  approveAgent(db, id);
  upsertTunnel(db, { id: `tunnel-${id}`, name: `tf-${id}`, accountId: 'acc', agentId: id });
  return id;
}

/** Stores the container as the agent API does, then runs the hook the API calls, scoped as it does. */
function report(agentId: string, reported: Container) {
  const change = upsertContainer(db, agentId, reported);
  return engine.syncAgentRoutes(agentId, { changes: change ? [change] : [] });
}

/** What `docker rm -f` reports: the container is gone. */
function remove(agentId: string, removed: Container) {
  const before = findContainer(db, agentId, removed.id);
  const changed = markContainerRemoved(db, agentId, removed.id);
  return engine.syncAgentRoutes(agentId, { changes: changed ? [{ containerId: removed.id, before }] : [] });
}

const routesOf = (agentId: string) => listRoutes(db, { agentId });
const advance = (seconds: number) => {
  clock += seconds * 1000;
};

describe('routes engine', () => {
  it('turns a labelled running container into an active route and asks to sync its tunnel and zone', async () => {
    const agent = addAgent('ag_a');
    const targets = await report(agent, container('web', webLabels('app.example.com')));
    expect(routesOf(agent)).toEqual([
      expect.objectContaining({
        hostname: 'app.example.com',
        service: 'http://web:80',
        zone: 'example.com',
        status: 'active',
      }),
    ]);
    expect(targets.sort()).toEqual(['tunnel:tunnel-ag_a', 'zone:example.com']);
    // Each target with the hostname that changed: the zone's sync need read no other name.
    expect(notified).toEqual([
      new Map([
        ['tunnel:tunnel-ag_a', new Set(['app.example.com'])],
        ['zone:example.com', new Set(['app.example.com'])],
      ]),
    ]);
  });

  it('asks for no sync when the same report comes again', async () => {
    const agent = addAgent('ag_a');
    const web = container('web', webLabels('app.example.com'));
    await report(agent, web);
    expect(await report(agent, web)).toEqual([]);
  });

  it('syncs the tunnel when a label changes how Cloudflare reaches the origin', async () => {
    const agent = addAgent('ag_a');
    const web = container('web', webLabels('app.example.com'));
    await report(agent, web);
    const targets = await report(agent, {
      ...web,
      labels: webLabels('app.example.com', { 'tunnelfleet.origin.noTLSVerify': 'true' }),
    });
    expect(targets).toContain('tunnel:tunnel-ag_a');
  });

  it('keeps the wake settings in the spec, and changing them syncs the tunnel', async () => {
    const agent = addAgent('ag_a');
    const web = container('web', webLabels('app.example.com', { 'tunnelfleet.wake': 'true' }));
    await report(agent, web);
    expect(routesOf(agent)[0]?.spec).toEqual(
      expect.objectContaining({
        wake: { startTimeoutSeconds: 60, idleTimeoutSeconds: 0, dependsOn: [], redirectPath: '/' },
      }),
    );
    const targets = await report(agent, {
      ...web,
      labels: webLabels('app.example.com', { 'tunnelfleet.wake': 'true', 'tunnelfleet.idle_timeout': '1h' }),
    });
    expect(targets).toContain('tunnel:tunnel-ag_a');
  });

  it('keeps a sleeping container’s wake route published with no grace period; its other routes stop', async () => {
    const agent = addAgent('ag_a');
    const web = container(
      'web',
      webLabels('app.example.com', {
        'tunnelfleet.wake': 'true',
        'tunnelfleet.admin.hostname': 'admin.example.com',
        'tunnelfleet.admin.service': 'http://web:80',
      }),
    );
    await report(agent, web);
    notified = [];
    await report(agent, { ...web, state: 'sleeping' });
    const byHost = new Map(routesOf(agent).map((route) => [route.hostname, route]));
    expect(byHost.get('app.example.com')).toEqual(
      expect.objectContaining({ status: 'active', deleteAfter: null }),
    );
    expect(byHost.get('admin.example.com')?.status).toBe('pending_deletion');
    // Still carried, unchanged: only the route that stopped is synced.
    advance(GRACE_SECONDS + 1);
    engine.expireGracePeriods();
    expect(routesOf(agent).find((r) => r.hostname === 'app.example.com')?.status).toBe('active');
  });

  it('does not take an agent’s word that a container sleeps for a route that does not wake', async () => {
    const agent = addAgent('ag_a');
    const web = container('web', webLabels('app.example.com'));
    await report(agent, web);
    await report(agent, { ...web, state: 'sleeping' });
    expect(routesOf(agent)[0]?.status).toBe('pending_deletion');
  });

  it('gives the hostname to the first agent that claimed it; the second sees who holds it', async () => {
    const first = addAgent('ag_a');
    const second = addAgent('ag_b');
    await report(first, container('web', webLabels('app.example.com')));
    advance(1);
    const targets = await report(second, container('copy', webLabels('app.example.com')));

    const [holder] = routesOf(first);
    const [loser] = routesOf(second);
    expect(holder?.status).toBe('active');
    expect(loser?.status).toBe('conflict');
    expect(loser?.statusMessage).toContain('(every path of it) is held by agent ag_a');
    expect(listConflicts(db)).toEqual([
      expect.objectContaining({ kind: 'hostname_claimed', routeId: loser?.id, holderRouteId: holder?.id }),
    ]);
    // The loser is carried by nothing: Cloudflare stays as the holder has it.
    expect(targets).toEqual([]);
  });

  it('hands the hostname over when the holder’s container is gone past its grace period', async () => {
    const first = addAgent('ag_a');
    const second = addAgent('ag_b');
    const web = container('web', webLabels('app.example.com'));
    await report(first, web);
    advance(1);
    await report(second, container('copy', webLabels('app.example.com')));

    await report(first, { ...web, state: 'exited' });
    expect(routesOf(second)[0]?.status).toBe('conflict');
    advance(GRACE_SECONDS + 1);
    const targets = engine.expireGracePeriods();

    expect(routesOf(second)[0]?.status).toBe('active');
    expect(listConflicts(db)).toEqual([]);
    expect(targets).toContain('tunnel:tunnel-ag_b');
  });

  it('keeps a restarted container’s route as it was, with nothing to sync', async () => {
    const agent = addAgent('ag_a');
    const web = container('web', webLabels('app.example.com'));
    await report(agent, web);
    expect(await report(agent, { ...web, state: 'exited' })).toEqual([]);
    expect(routesOf(agent)[0]?.status).toBe('pending_deletion');
    advance(GRACE_SECONDS / 2);
    expect(await report(agent, web)).toEqual([]);
    expect(routesOf(agent)[0]).toEqual(expect.objectContaining({ status: 'active', deleteAfter: null }));
  });

  it('marks a route with bad labels invalid, with the reason, and asks for no sync', async () => {
    const agent = addAgent('ag_a');
    const targets = await report(agent, container('bad', webLabels('not a hostname!')));
    const [route] = routesOf(agent);
    expect(route?.status).toBe('invalid');
    expect(route?.statusMessage).toContain('tunnelfleet.hostname');
    expect(targets).toEqual([]);
  });

  it('refuses a hostname outside the agent key’s allowlist or the managed zones, as an open conflict', async () => {
    const agent = addAgent('ag_a', ['*.apps.example.com', 'shop.example.net']);
    await report(agent, container('ok', webLabels('web.apps.example.com')));
    await report(agent, container('outside', webLabels('admin.example.com')));
    await report(agent, container('unmanaged', webLabels('shop.example.net')));

    const byHost = new Map(routesOf(agent).map((r) => [r.hostname, r]));
    expect(byHost.get('web.apps.example.com')?.status).toBe('active');
    for (const hostname of ['admin.example.com', 'shop.example.net']) {
      expect(byHost.get(hostname)?.status, hostname).toBe('invalid');
    }
    expect(byHost.get('admin.example.com')?.statusMessage).toContain('allowlist');
    expect(byHost.get('shop.example.net')?.statusMessage).toContain('not in a zone this master manages');
    expect(
      listConflicts(db)
        .map((c) => [c.kind, c.hostname])
        .sort(),
    ).toEqual([
      ['outside_allowlist', 'admin.example.com'],
      ['outside_allowlist', 'shop.example.net'],
    ]);
  });

  it('keeps a cleanup=false route as a retained route once its container is gone for good', async () => {
    const agent = addAgent('ag_a');
    const wiki = container('wiki', webLabels('wiki.example.com', { 'tunnelfleet.cleanup': 'false' }));
    await report(agent, wiki);
    await report(agent, { ...wiki, state: 'exited' });
    advance(GRACE_SECONDS + 1);
    engine.expireGracePeriods();

    expect(routesOf(agent)).toEqual([]);
    expect(listRetainedRoutes(db)).toEqual([
      expect.objectContaining({
        id: expect.stringMatching(/^rr_[0-9a-f]{16}$/),
        hostname: 'wiki.example.com',
        tunnelId: 'tunnel-ag_a',
        agentId: agent,
      }),
    ]);

    // A new container that claims the hostname takes it over.
    await report(agent, container('wiki-2', webLabels('wiki.example.com')));
    expect(listRetainedRoutes(db)).toEqual([]);
    expect(routesOf(agent)[0]?.status).toBe('active');
  });

  describe('route identity: a recreated container is the same route', () => {
    const compose = (project: string, service: string) => ({
      'com.docker.compose.project': project,
      'com.docker.compose.service': service,
    });

    it('hands a removed container’s route to a new one of the same name at once, with its new labels', async () => {
      const agent = addAgent('ag_a');
      const old = container('web', webLabels('app.example.com'));
      await report(agent, old);
      const [before] = routesOf(agent);
      advance(5);
      await remove(agent, old);
      const recreated = container(
        'web',
        webLabels('app.example.com', { 'tunnelfleet.service': 'http://web:8080' }),
      );
      const targets = await report(agent, recreated);

      expect(routesOf(agent)).toEqual([
        expect.objectContaining({
          id: before?.id,
          containerId: recreated.id,
          service: 'http://web:8080',
          status: 'active',
          deleteAfter: null,
          claimedAt: before?.claimedAt,
          replaced: [
            { containerId: old.id, containerName: 'web', replacedAt: new Date(clock).toISOString() },
          ],
        }),
      ]);
      expect(listConflicts(db)).toEqual([]);
      expect(targets).toContain('tunnel:tunnel-ag_a');
    });

    it('asks for no sync when the successor carries the same labels', async () => {
      const agent = addAgent('ag_a');
      const old = container('web', webLabels('app.example.com'));
      await report(agent, old);
      expect(await remove(agent, old)).toEqual([]);
      expect(await report(agent, container('web', webLabels('app.example.com')))).toEqual([]);
      expect(routesOf(agent)[0]?.status).toBe('active');
    });

    it('follows a compose service through a recreate, whatever the old container is renamed to', async () => {
      const agent = addAgent('ag_a');
      const labels = { ...webLabels('shop.example.com'), ...compose('shop', 'web') };
      const old = container('shop-web-1', labels);
      await report(agent, old);
      // Compose stops and renames the old one, starts the new one, then removes the old one.
      await report(agent, { ...old, name: `${old.id.slice(0, 12)}_shop-web-1`, state: 'exited' });
      const recreated = container('shop-web-1', { ...labels, 'tunnelfleet.service': 'http://web:8080' });
      await report(agent, recreated);
      await remove(agent, old);

      expect(routesOf(agent)).toEqual([
        expect.objectContaining({
          identity: 'compose:shop/web',
          containerId: recreated.id,
          service: 'http://web:8080',
          status: 'active',
        }),
      ]);
      expect(listConflicts(db)).toEqual([]);
    });

    it('lets one replica of a scaled service serve, without a conflict, and hands over on scale-down', async () => {
      const agent = addAgent('ag_a');
      const labels = { ...webLabels('shop.example.com'), ...compose('shop', 'web') };
      const first = container('shop-web-1', labels);
      const second = container('shop-web-2', labels);
      await report(agent, first);
      await report(agent, second);

      expect(routesOf(agent)).toEqual([
        expect.objectContaining({ containerName: 'shop-web-1', replicas: 2, status: 'active' }),
      ]);
      expect(listConflicts(db)).toEqual([]);

      const targets = await remove(agent, first);
      expect(routesOf(agent)).toEqual([
        expect.objectContaining({
          containerName: 'shop-web-2',
          replicas: 1,
          status: 'active',
          deleteAfter: null,
        }),
      ]);
      expect(targets).toEqual([]);
    });

    it('ends at once a route the successor’s labels no longer ask for', async () => {
      const agent = addAgent('ag_a');
      const old = container(
        'web',
        webLabels('app.example.com', {
          'tunnelfleet.admin.hostname': 'admin.example.com',
          'tunnelfleet.admin.service': 'http://web:9090',
        }),
      );
      await report(agent, old);
      await remove(agent, old);
      const targets = await report(agent, container('web', webLabels('app.example.com')));

      const byHost = new Map(routesOf(agent).map((r) => [r.hostname, r]));
      expect(byHost.get('app.example.com')?.status).toBe('active');
      expect(byHost.get('admin.example.com')).toEqual(
        expect.objectContaining({ status: 'pending_deletion', deleteAfter: new Date(clock).toISOString() }),
      );
      expect(targets).toContain('tunnel:tunnel-ag_a');
    });

    it('keeps the grace period for a container removed with no successor', async () => {
      const agent = addAgent('ag_a');
      const old = container('web', webLabels('app.example.com'));
      await report(agent, old);
      expect(await remove(agent, old)).toEqual([]);
      expect(routesOf(agent)[0]).toEqual(
        expect.objectContaining({
          status: 'pending_deletion',
          deleteAfter: new Date(clock + GRACE_SECONDS * 1000).toISOString(),
        }),
      );
    });

    it('treats containers of other names or other services as other claimants', async () => {
      const agent = addAgent('ag_a');
      await report(agent, container('web', webLabels('app.example.com')));
      advance(1);
      await report(agent, container('copy', webLabels('app.example.com')));
      expect(routesOf(agent).map((r) => [r.containerName, r.status])).toEqual([
        ['web', 'active'],
        ['copy', 'conflict'],
      ]);
    });
  });

  it('keeps a cleanup=false route whose deadline passed after the grace expiry, for the next one to retain', async () => {
    const agent = addAgent('ag_a');
    const wiki = container('wiki', webLabels('wiki.example.com', { 'tunnelfleet.cleanup': 'false' }));
    await report(agent, wiki);
    await report(agent, { ...wiki, state: 'exited' });
    // A full reconcile expired grace periods a moment before this deadline, synced, then forgets.
    advance(GRACE_SECONDS + 1);
    const everyTarget = new Set(routesOf(agent).flatMap((route) => routeTargets(db, route)));
    expect(engine.forgetExpiredRoutes(everyTarget)).toBe(0);
    expect(routesOf(agent)).toEqual([expect.objectContaining({ status: 'pending_deletion' })]);

    engine.expireGracePeriods();
    expect(listRetainedRoutes(db)).toEqual([expect.objectContaining({ hostname: 'wiki.example.com' })]);
  });

  it('plans a report of some containers exactly as planning the whole host would (seeded walk of 300 changes)', async () => {
    let seed = 20261205;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const hostnames = ['a.example.com', 'b.example.com', 'c.example.com'];
    const agents = [addAgent('ag_a'), addAgent('ag_b')];
    // Compose services (recreated and scaled under one identity) and plain names (renamed).
    const composeLabels = (service: string, hostname: string) => ({
      ...webLabels(hostname),
      'com.docker.compose.project': 'shop',
      'com.docker.compose.service': service,
    });
    const live: { agentId: string; container: Container }[] = [];
    const stored = (agentId: string) => routesOf(agentId).map(({ updatedAt: _updatedAt, ...route }) => route);
    for (let step = 0; step < 300; step++) {
      const agentId = pick(agents);
      const mine = live.filter((entry) => entry.agentId === agentId);
      const operation =
        mine.length === 0 ? 'start' : pick(['start', 'start', 'state', 'label', 'rename', 'remove']);
      let changed: Container;
      // Docker keeps names unique on a host: a plain name is started or renamed to only while free.
      const used = new Set(mine.map((entry) => entry.container.name));
      const freeNames = ['blog', 'wiki', 'copy'].filter((name) => !used.has(name));
      if (operation === 'start') {
        const compose = freeNames.length === 0 || random() < 0.5;
        const name = compose ? `shop-${pick(['web', 'api'])}-${step}` : pick(freeNames);
        const labels = compose
          ? composeLabels(name.split('-')[1]!, pick(hostnames))
          : webLabels(pick(hostnames));
        changed = container(name, labels);
        live.push({ agentId, container: changed });
      } else {
        const entry = pick(mine);
        if (operation === 'state')
          entry.container = { ...entry.container, state: pick(['running', 'exited']) };
        if (operation === 'label')
          entry.container = {
            ...entry.container,
            labels: { ...entry.container.labels, 'tunnelfleet.hostname': pick(hostnames) },
          };
        if (operation === 'rename' && !used.has(`${entry.container.name}-r`))
          entry.container = { ...entry.container, name: `${entry.container.name}-r` };
        changed = entry.container;
      }
      if (operation === 'remove') {
        const entry = live.splice(live.indexOf(mine[0]!), 1)[0]!;
        await remove(agentId, entry.container);
      } else {
        await report(agentId, changed);
      }
      advance(1);
      // The whole host planned again finds nothing to change, on either host.
      for (const agent of agents) {
        const scoped = stored(agent);
        expect(await engine.syncAgentRoutes(agent, { notify: false })).toEqual([]);
        expect(stored(agent), `step ${step}: ${operation} on ${agentId}`).toEqual(scoped);
      }
    }
    // The walk reached the cases that matter: takeovers, replicas, conflicts, ended routes.
    const every = agents.flatMap((agent) => routesOf(agent));
    expect(every.some((route) => route.replaced.length > 0)).toBe(true);
    expect(every.some((route) => route.replicas > 1)).toBe(true);
    expect(every.some((route) => route.status === 'conflict')).toBe(true);
    expect(every.some((route) => route.status === 'pending_deletion')).toBe(true);
  });
});
