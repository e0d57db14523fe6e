import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type RedisServerHandle, startRedisServer, waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestWorld, type TestWorld } from '../../test/cloudflare-test-world.js';
import { container, webLabels } from '../../test/reconciler-test-world.js';
import { agentTunnelName } from '../agents/agent-service.js';
import { insertAgentKey } from '../store/agent-keys.js';
import { approveAgent, insertAgent } from '../store/agents.js';
import { upsertContainer } from '../store/containers.js';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { upsertTunnel } from '../store/tunnels.js';

const ROUTES = 200;
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const childScript = fileURLToPath(new URL('../../test/dist/test/crash-child.js', import.meta.url));

let redis: RedisServerHandle;
let cf: TestWorld;
let db: SqliteDatabase;
let dataDir: string;

beforeAll(async () => {
  // The child runs the compiled master: build it so it is this code, not a stale dist.
  await promisify(execFile)('pnpm', ['exec', 'tsc', '-b', 'master/test'], { cwd: repoRoot });
  redis = await startRedisServer();
  cf = await startTestWorld(['example.com']);
  dataDir = mkdtempSync(join(tmpdir(), 'tunnelfleet-crash-'));
  db = openDatabase(dataDir);
}, 180_000);
afterAll(async () => {
  db?.close();
  await cf?.close();
  await redis?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function startChild(): {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null; out: string }>;
} {
  const child = spawn(process.execPath, [childScript], {
    env: {
      ...process.env,
      CRASH_DATA_DIR: dataDir,
      CRASH_REDIS_URL: redis.url,
      CRASH_CF_URL: cf.emulator.baseUrl,
      CRASH_CF_TOKEN: cf.defaultToken,
      CRASH_CF_ACCOUNT: cf.accountId,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, out })),
  );
  return { child, done };
}

const dnsBatches = () => cf.emulator.writes().filter((c) => c.path.endsWith('/dns_records/batch')).length;
const configPuts = () => cf.emulator.writes().filter((c) => c.path.endsWith('/configurations')).length;

it('converges after the reconciler is killed with SIGKILL in the middle of a 200-route burst', async () => {
  const keyId = `key_${randomBytes(6).toString('hex')}`;
  const agentId = `ag_${randomBytes(8).toString('hex')}`;
  insertAgentKey(db, {
    id: keyId,
    name: keyId,
    secretHash: 'x'.repeat(64),
    hostnameAllowlist: [],
    allowAnyHostname: true,
    autoApprove: true,
  });
  insertAgent(db, { id: agentId, keyId, name: agentId, hostname: null, agentVersion: null });
  approveAgent(db, agentId);
  const tunnel = await cf.layer().tunnels.ensureTunnel(agentTunnelName(agentId));
  upsertTunnel(db, { id: tunnel.tunnelId, name: tunnel.name, accountId: cf.accountId, agentId });
  const foreign = cf.emulator.seedDnsRecord('example.com', {
    type: 'A',
    name: 'legacy.example.com',
    content: '192.0.2.1',
  });
  for (let i = 0; i < ROUTES; i++)
    upsertContainer(db, agentId, container(`web-${i}`, webLabels(`app-${i}.example.com`)));
  cf.emulator.faults.set({ latencyMs: 20 });

  // Killed right after the ingress PUT (before or after its ownership was recorded), then
  // between DNS batches: each kill leaves Cloudflare ahead of SQLite.
  const killPoints = [() => configPuts() >= 1, () => dnsBatches() >= 3, () => dnsBatches() >= 6];
  for (const reached of killPoints) {
    const { child, done } = startChild();
    await waitFor(reached, { description: 'the kill point', timeoutMs: 60_000, intervalMs: 2 });
    child.kill('SIGKILL');
    const exit = await done;
    expect(exit.signal).toBe('SIGKILL');
  }
  expect(cf.emulator.dnsRecords('example.com').length).toBeLessThan(ROUTES + 1);

  cf.emulator.faults.clear();
  const { done } = startChild();
  const exit = await done;
  expect(exit.code, exit.out).toBe(0);

  const records = cf.emulator.dnsRecords('example.com');
  const names = records.map((r) => r.name);
  expect(names).toHaveLength(ROUTES + 1);
  expect(new Set(names).size).toBe(ROUTES + 1);
  expect(records).toContainEqual(foreign);
  const config = cf.emulator.tunnelConfig(tunnel.tunnelId)?.config as { ingress?: { hostname?: string }[] };
  const ingress = config?.ingress ?? [];
  const hosts = ingress.flatMap((r) => (r.hostname ? [r.hostname] : []));
  expect(hosts).toHaveLength(ROUTES);
  expect(new Set(hosts).size).toBe(ROUTES);
  const routes = listRoutes(db);
  expect(routes).toHaveLength(ROUTES);
  expect(
    routes.filter((r) => r.status !== 'active').map((r) => [r.hostname, r.status, r.statusMessage]),
  ).toEqual([]);
  const owned = db.prepare('SELECT kind, COUNT(*) AS n FROM owned_objects GROUP BY kind ORDER BY kind').all();
  expect(owned).toEqual([
    { kind: 'dns_record', n: ROUTES },
    { kind: 'ingress_rule', n: ROUTES },
  ]);

  // Converged means steady: one more run writes nothing.
  cf.emulator.clearCalls();
  const again = await startChild().done;
  expect(again.code, again.out).toBe(0);
  expect(cf.emulator.writes()).toEqual([]);
}, 180_000);
