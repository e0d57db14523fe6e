import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayServiceUrl, stableStringify } from '@tunnelfleet/common';
import { type CloudflareEmulator, startCloudflareEmulator } from '@tunnelfleet/test';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { insertApprovedAgent } from '../../test/approved-agent.js';
import { container, webLabels } from '../../test/reconciler-test-world.js';
import { createCloudflareLayer } from '../cloudflare/cloudflare-layer.js';
import { readDesiredState } from '../reconciler/desired-state.js';
import type { SyncTarget } from '../routes/route-targets.js';
import { createRoutesEngine, type RoutesEngine } from '../routes/routes-engine.js';
import { upsertContainer } from '../store/containers.js';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { upsertTunnel } from '../store/tunnels.js';
import { gatewayGroupsOf } from './gateway-groups.js';
import { createGatewayRoutesService, type GatewayRoutesService } from './gateway-routes-service.js';

// Zone lookups go to the emulator through the real Cloudflare layer, as in the routes engine's tests.
let emulator: CloudflareEmulator;
let resolveZone: (hostname: string, zone?: string) => Promise<{ zoneName: string }>;
beforeAll(async () => {
  emulator = await startCloudflareEmulator();
  const account = emulator.createAccount('acme');
  emulator.createZone('example.com', account.id);
  const layer = createCloudflareLayer(
    {
      tokens: [],
      defaultToken: emulator.createToken({ accountIds: [account.id], zoneNames: 'all', name: 'default' }),
      accountId: account.id,
      baseURL: emulator.baseUrl,
    },
    pino({ level: 'silent' }),
  );
  resolveZone = (hostname, zone) => layer.resolveZone(hostname, zone);
});
afterAll(() => emulator.close());

let dir: string;
let db: SqliteDatabase;
let engine: RoutesEngine;
let gateways: GatewayRoutesService;
let dirty: SyncTarget[];
let clock: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-gateway-routes-'));
  db = openDatabase(dir);
  clock = Date.parse('2026-12-05T12:00:00.000Z');
  dirty = [];
  engine = createRoutesEngine({
    db,
    logger: pino({ level: 'silent' }),
    resolveZone: (hostname, zone) => resolveZone(hostname, zone),
    graceSeconds: 600,
    requireAccess: false,
    onTargetsChanged: () => undefined,
    now: () => new Date(clock),
  });
  gateways = createGatewayRoutesService({
    db,
    logger: pino({ level: 'silent' }),
    send: async () => true,
    markDirty: (targets) => {
      dirty.push(...targets);
    },
    now: () => new Date(clock),
  });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function addAgent(id: string) {
  insertApprovedAgent(db, id);
  upsertTunnel(db, { id: `tunnel-${id}`, name: `tf-${id}`, accountId: 'acc', agentId: id });
  return id;
}

async function run(agentId: string, name: string, labels: Record<string, string>) {
  upsertContainer(db, agentId, container(name, labels));
  await engine.syncAgentRoutes(agentId);
  clock += 1000;
}

const wake = { 'tunnelfleet.wake': 'true' };
const ready = { state: 'running' as const, ready: true, tableVersion: 1, image: 'agent:1' };

describe("each host's gateway table", () => {
  it("holds the agent's own accepted routes that wake, never another agent's, nor a claim it lost", async () => {
    const a = addAgent('ag_a');
    const b = addAgent('ag_b');
    await run(a, 'app', webLabels('app.example.com', wake));
    await run(a, 'plain', webLabels('plain.example.com'));
    await run(b, 'copy', webLabels('app.example.com', wake));
    await run(b, 'own', webLabels('own.example.com', wake));

    expect(gateways.tableOf(a).map((route) => [route.hostname, route.wake?.container])).toEqual([
      ['app.example.com', 'app'],
    ]);
    expect(gateways.tableOf(b).map((route) => route.hostname)).toEqual(['own.example.com']);
  });

  it('publishes a route through the gateway only at the address the master derives, once it is ready', async () => {
    const a = addAgent('ag_a');
    await run(a, 'app', webLabels('app.example.com', wake));
    const published = () => readDesiredState(db, new Date(clock)).published.map((route) => route.service);
    const withheld = () =>
      readDesiredState(db, new Date(clock)).gatewayWithheld.map((entry) => entry.message);

    expect(published()).toEqual([]);
    expect(withheld()).toEqual([
      "waiting for the host's gateway (set GATEWAY_IMAGE); the route is not published until then",
    ]);

    await gateways.noteHeartbeat(a, { ...ready, ready: false, serviceUrl: gatewayServiceUrl(a) });
    expect(withheld()[0]).toContain("waiting for the host's gateway (it is not ready)");
    expect(dirty).toEqual(expect.arrayContaining(['tunnel:tunnel-ag_a', 'zone:example.com']));

    // Another host's gateway, however ready, is never this route's.
    await gateways.noteHeartbeat(a, { ...ready, serviceUrl: gatewayServiceUrl('ag_victim') });
    expect(published()).toEqual([]);
    expect(withheld()[0]).toContain(`not ${gatewayServiceUrl(a)}`);

    await gateways.noteHeartbeat(a, { ...ready, serviceUrl: gatewayServiceUrl(a) });
    expect(published()).toEqual([gatewayServiceUrl(a)]);
    expect(withheld()).toEqual([]);

    // The gateway goes away (GATEWAY_IMAGE unset): the route is withdrawn again.
    await gateways.noteHeartbeat(a, undefined);
    expect(published()).toEqual([]);
  });
});

describe('gateway groups: several containers of one agent under one hostname and path', () => {
  const backend = (name: string, more: Record<string, string> = {}) =>
    webLabels('shop.example.com', { 'tunnelfleet.service': `http://${name}:80`, ...more });
  const statuses = () =>
    listRoutes(db).map((route) => [route.containerName, route.status, route.statusMessage]);

  async function readyGateway(agentId: string) {
    await gateways.noteHeartbeat(agentId, { ...ready, serviceUrl: gatewayServiceUrl(agentId) });
  }

  it('accepts every member with routing labels, sends each to the gateway and publishes one rule', async () => {
    const a = addAgent('ag_a');
    await readyGateway(a);
    await run(a, 'stable', backend('stable', { 'tunnelfleet.weight': '90' }));
    await run(a, 'canary', backend('canary', { 'tunnelfleet.weight': '10' }));
    await run(a, 'beta', backend('beta', { 'tunnelfleet.match.header.X-Beta': '1' }));

    expect(statuses()).toEqual([
      ['stable', 'active', null],
      ['canary', 'active', null],
      ['beta', 'active', null],
    ]);
    expect(
      gateways.tableOf(a).map((route) => [route.backend.url, route.weight ?? null, route.match ?? null]),
    ).toEqual(
      expect.arrayContaining([
        ['http://stable', 90, null],
        ['http://canary', 10, null],
        ['http://beta', null, { headers: [{ name: 'x-beta', type: 'exact', value: '1' }] }],
      ]),
    );
    expect(gateways.tableOf(a)).toHaveLength(3);
    const state = readDesiredState(db, new Date(clock));
    expect(state.published.map((route) => [route.hostname, route.service])).toEqual([
      ['shop.example.com', gatewayServiceUrl(a)],
    ]);
    // The rule's verdict is every member's: the rule's route carries the others.
    expect(state.published[0]!.groupMembers?.map((route) => route.containerName)).toEqual(['canary', 'beta']);
    const ids = listRoutes(db).map((route) => route.id);
    expect([...gatewayGroupsOf(db, listRoutes(db), new Date(clock)).values()]).toEqual([ids, ids, ids]);
  });

  it('keeps a plain route colliding with a gateway route a claimant, saying why', async () => {
    const a = addAgent('ag_a');
    await readyGateway(a);
    await run(a, 'stable', backend('stable', { 'tunnelfleet.weight': '90' }));
    await run(a, 'plain', backend('plain'));
    await run(a, 'wake-only', backend('sleepy', wake));

    const [, plain, wakeOnly] = statuses();
    expect(plain).toEqual([
      'plain',
      'conflict',
      expect.stringContaining(
        "already held by container stable (only routes through the host's gateway with routing labels " +
          '(weight, match.*, filter.*, mirror) can share a hostname and path, and this one has none)',
      ),
    ]);
    expect(wakeOnly?.[1]).toBe('conflict');
    expect(gateways.tableOf(a).map((route) => route.backend.url)).toEqual(['http://stable']);
    expect(gatewayGroupsOf(db, listRoutes(db), new Date(clock)).size).toBe(0);
  });

  it('refuses a member asking for other Access than the group (fail closed), and publishes it once alone', async () => {
    const a = addAgent('ag_a');
    await readyGateway(a);
    const access = { 'tunnelfleet.access.emails': 'ops@example.com' };
    await run(a, 'stable', backend('stable', { 'tunnelfleet.weight': '1', ...access }));
    await run(a, 'same', backend('same', { 'tunnelfleet.weight': '1', ...access }));
    await run(
      a,
      'open',
      backend('open', { 'tunnelfleet.weight': '1', 'tunnelfleet.access.emails': 'x@example.com' }),
    );

    expect(statuses().map(([name, status]) => [name, status])).toEqual([
      ['stable', 'active'],
      ['same', 'active'],
      ['open', 'conflict'],
    ]);
    expect(statuses()[2]![2]).toContain(
      "it asks for other Access than container stable's route; the members of a gateway group must agree on Access",
    );
    expect(gateways.tableOf(a).map((route) => route.backend.url)).toEqual(['http://stable', 'http://same']);
  });

  it('keeps the rule while a member remains, and withdraws it with the last one', async () => {
    const a = addAgent('ag_a');
    await readyGateway(a);
    const stableLabels = backend('stable', { 'tunnelfleet.weight': '90' });
    const canaryLabels = backend('canary', { 'tunnelfleet.weight': '10' });
    const stable = container('stable', stableLabels);
    const canary = container('canary', canaryLabels);
    upsertContainer(db, a, stable);
    upsertContainer(db, a, canary);
    await engine.syncAgentRoutes(a);

    // The first member (whose claim the rule was published under) stops: the canary serves alone.
    upsertContainer(db, a, { ...stable, state: 'exited' });
    await engine.syncAgentRoutes(a);
    expect(gateways.tableOf(a).map((route) => route.backend.url)).toEqual(['http://canary']);
    expect(readDesiredState(db, new Date(clock)).published.map((route) => route.service)).toEqual([
      gatewayServiceUrl(a),
    ]);

    // The last one stops: the normal grace period, then withdrawal.
    upsertContainer(db, a, { ...canary, state: 'exited' });
    await engine.syncAgentRoutes(a);
    expect(listRoutes(db).map((route) => route.status)).toEqual(['pending_deletion', 'pending_deletion']);
    expect(readDesiredState(db, new Date(clock)).published).toHaveLength(1);
    clock += 601_000;
    engine.expireGracePeriods();
    expect(readDesiredState(db, new Date(clock)).published).toEqual([]);
    expect(gateways.tableOf(a)).toEqual([]);
  });

  it("never lets another agent join a group: its claim is a conflict and the holder's table is unchanged", async () => {
    const victim = addAgent('ag_victim');
    const attacker = addAgent('ag_attacker');
    await readyGateway(victim);
    await readyGateway(attacker);
    await run(victim, 'stable', backend('stable', { 'tunnelfleet.weight': '90' }));
    await run(victim, 'canary', backend('canary', { 'tunnelfleet.weight': '10' }));
    const before = stableStringify(gateways.tableOf(victim));

    await run(attacker, 'evil', backend('evil', { 'tunnelfleet.weight': '1000000' }));

    const evil = listRoutes(db, { agentId: attacker })[0]!;
    expect(evil.status).toBe('conflict');
    expect(evil.statusMessage).toContain('(every path of it) is held by agent ag_victim');
    expect(stableStringify(gateways.tableOf(victim))).toBe(before);
    expect(gateways.tableOf(attacker)).toEqual([]);
    expect(gatewayGroupsOf(db, [evil], new Date(clock)).size).toBe(0);
  });
});
