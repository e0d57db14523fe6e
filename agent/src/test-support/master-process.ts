import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CloudflareEmulator,
  freePort,
  type RedisServerHandle,
  startCloudflareEmulator,
  startRedisServer,
  waitFor,
} from '@tunnelfleet/test';

const MASTER_MAIN = fileURLToPath(new URL('../../../master/dist/main.js', import.meta.url));
const ADMIN_TOKEN = `tfa_agenttest_${'b'.repeat(40)}`;

// biome-ignore lint/suspicious/noExplicitAny: tests read admin answers field by field
type Json = any;

export interface MasterProcess {
  /** Stable across restarts: `http://127.0.0.1:<port>`. */
  url: string;
  emulator: CloudflareEmulator;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** Creates an auto-approved agent key. */
  createKey(name: string): Promise<string>;
  /** The master's view of one agent (its containers, tunnel). */
  agent(agentId: string): Promise<Json>;
  /** SIGTERM and wait for the exit: the master is down until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real master as its own process (`node master/dist/main.js`, built by `pnpm build`), with a
 * private redis-server, a temp SQLite dir and the Cloudflare emulator. It keeps its port across
 * restarts so an agent pointed at it sees an outage, then the same master again.
 */
export async function startMasterProcess(
  options: { reportIntervalSeconds?: number } = {},
): Promise<MasterProcess> {
  if (!existsSync(MASTER_MAIN)) throw new Error(`${MASTER_MAIN} is missing: run pnpm build first`);
  const redis: RedisServerHandle = await startRedisServer();
  const emulator = await startCloudflareEmulator();
  const account = emulator.createAccount('agent-tests');
  const cloudflareToken = emulator.createToken({ accountIds: [account.id], zoneNames: 'all' });
  const dataDir = mkdtempSync(join(tmpdir(), 'tf-agent-master-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    PORT: String(port),
    HOST: '127.0.0.1',
    TUNNELFLEET_DATA_DIR: dataDir,
    REDIS_URL: redis.url,
    CLOUDFLARE_API_TOKEN: cloudflareToken,
    CLOUDFLARE_ACCOUNT_ID: account.id,
    CLOUDFLARE_API_BASE_URL: emulator.baseUrl,
    TUNNELFLEET_ADMIN_TOKEN: ADMIN_TOKEN,
    REPORT_INTERVAL_SECONDS: String(options.reportIntervalSeconds ?? 1),
    LOG_LEVEL: 'warn',
  };
  let child: ChildProcess | undefined;
  let output = '';

  const admin: MasterProcess['admin'] = async (method, path, body) => {
    const response = await fetch(`${url}/api/v1/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };

  const start = async () => {
    output = '';
    const proc = spawn(process.execPath, [MASTER_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    proc.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`master exited ${proc.exitCode}: ${output}`);
        return (await fetch(`${url}/healthz`)).ok;
      },
      { description: 'the master to answer /healthz', timeoutMs: 20_000 },
    );
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    url,
    emulator,
    admin,
    async createKey(name) {
      const created = await admin('POST', '/keys', { name, autoApprove: true });
      if (created.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(created.body)}`);
      return created.body.key as string;
    },
    async agent(agentId) {
      const answer = await admin('GET', `/agents/${encodeURIComponent(agentId)}`);
      if (answer.status !== 200) throw new Error(`agent ${agentId}: ${answer.status}`);
      return answer.body.agent;
    },
    stop,
    start,
    async close() {
      await stop();
      await emulator.close();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
