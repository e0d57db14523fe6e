import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateAdminToken } from '@tunnelfleet/common';
import { freePort } from '../harness/free-port.js';
import { type AdminClient, createAdminClient } from './admin-client.js';
import type { CloudflareAccount } from './cloudflare-account.js';
import { createNodeService, type NodeService } from './node-service.js';

const MASTER_MAIN = fileURLToPath(new URL('../../../master/dist/main.js', import.meta.url));
const MASTER_DOCKERFILE = fileURLToPath(new URL('../../../deploy/master.Dockerfile', import.meta.url));

/**
 * The `NODE_OPTIONS` the master's image runs with (its heap limit): read from the Dockerfile, the
 * one place it is set, so that what is measured here is what operators run.
 */
export function shippedMasterNodeOptions(): string {
  const match = /^\s*NODE_OPTIONS="([^"]*)"/m.exec(readFileSync(MASTER_DOCKERFILE, 'utf8'));
  if (!match?.[1]) throw new Error(`no NODE_OPTIONS="…" line in ${MASTER_DOCKERFILE}`);
  return match[1];
}

interface MasterProcessOptions {
  redisUrl: string;
  /** The emulated Cloudflare account the master manages. */
  cloudflare: CloudflareAccount;
  /** SQLite directory; a temp dir removed by `close()` when absent. */
  dataDir?: string;
  /** Where stdout/stderr go; default `master.log` in the data dir's parent temp dir. */
  logFile?: string;
  /** Extra or overriding variables of `masterConfigSpec`, e.g. `{ GRACE_PERIOD_SECONDS: '2' }`. */
  env?: Record<string, string>;
}

export interface MasterProcess extends NodeService {
  /** `http://127.0.0.1:<port>`, the same across restarts so agents see one master come and go. */
  readonly url: string;
  readonly adminToken: string;
  readonly dataDir: string;
  /** The environment the process runs with (secrets included: the secret scan looks for them). */
  readonly env: Readonly<Record<string, string>>;
  readonly admin: AdminClient;
  /** Stops the process and removes what `startMasterProcess` created. */
  close(): Promise<void>;
}

/**
 * The real master (`node master/dist/main.js`, built by `pnpm build`) configured only through its
 * environment, like an operator runs it. Resolves once `/healthz` answers.
 */
export async function startMasterProcess(options: MasterProcessOptions): Promise<MasterProcess> {
  const ownDir = await mkdtemp(join(tmpdir(), 'tunnelfleet-master-'));
  const dataDir = options.dataDir ?? join(ownDir, 'data');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const adminToken = generateAdminToken();
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    TUNNELFLEET_DATA_DIR: dataDir,
    REDIS_URL: options.redisUrl,
    TUNNELFLEET_ADMIN_TOKEN: adminToken,
    CLOUDFLARE_API_TOKEN: options.cloudflare.apiToken,
    CLOUDFLARE_ACCOUNT_ID: options.cloudflare.accountId,
    CLOUDFLARE_API_BASE_URL: options.cloudflare.baseUrl,
    REPORT_INTERVAL_SECONDS: '1',
    LOG_LEVEL: 'info',
    NODE_OPTIONS: shippedMasterNodeOptions(),
    // Tests register over raw HTTP and expect an answer: a loaded machine must not make that a
    // 503 master_busy. Benchmarks set it back (`fleet-scale.ts`).
    ADMISSION_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...options.env,
  };
  const service = createNodeService({
    label: 'master',
    script: MASTER_MAIN,
    env,
    logFile: options.logFile ?? join(ownDir, 'master.log'),
    ready: async () => (await fetch(`${url}/healthz`)).ok,
  });
  try {
    await service.start();
  } catch (error) {
    await rm(ownDir, { recursive: true, force: true });
    throw error;
  }
  return {
    ...service,
    url,
    adminToken,
    dataDir,
    env,
    admin: createAdminClient(url, adminToken),
    async close() {
      await service.stop();
      await rm(ownDir, { recursive: true, force: true });
    },
  };
}
