import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayServiceUrl } from '@tunnelfleet/common';
import { type CloudflareEmulator, startCloudflareEmulator } from '@tunnelfleet/test';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { container, webLabels } from '../../test/reconciler-test-world.js';
import { createCloudflareLayer } from '../cloudflare/cloudflare-layer.js';
import { readDesiredState } from '../reconciler/desired-state.js';
import type { SyncTarget } from '../routes/route-targets.js';
import { createRoutesEngine, type RoutesEngine } from '../routes/routes-engine.js';
import { insertAgentKey } from '../store/agent-keys.js';
import { approveAgent, insertAgent } from '../store/agents.js';
import { upsertContainer } from '../store/containers.js';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { upsertTunnel } from '../store/tunnels.js';
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
  insertAgentKey(db, {
    id: `key_${id}`,
    name: id,
    secretHash: 'x',
    hostnameAllowlist: [],
    allowAnyHostname: true,
    autoApprove: true,
  });
  insertAgent(db, { id, keyId: `key_${id}`, name: id, hostname: null, agentVersion: null });
  approveAgent(db, id);
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
