import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container } from '@tunnelfleet/common';
import { type RedisServerHandle, startRedisServer } from '@tunnelfleet/test';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { agentTunnelName } from '#master/agents/agent-service.js';
import type { CallBudgetOptions } from '#master/cloudflare/call-budget.js';
import type { CloudflareLayer } from '#master/cloudflare/cloudflare-layer.js';
import { createReconciler, type Reconciler, type ReconcilerOptions } from '#master/reconciler/reconciler.js';
import { insertAgentKey } from '#master/store/agent-keys.js';
import { approveAgent, insertAgent } from '#master/store/agents.js';
import { findContainer, markContainerRemoved, upsertContainer } from '#master/store/containers.js';
import { openDatabase, type SqliteDatabase } from '#master/store/database.js';
import { upsertTunnel } from '#master/store/tunnels.js';
import { startTestWorld, type TestWorld } from './cloudflare-test-world.js';

export const GRACE_SECONDS = 600;

export interface ReconcilerWorld {
  cf: TestWorld;
  emulator: TestWorld['emulator'];
  db: SqliteDatabase;
  dataDir: string;
  cloudflare: CloudflareLayer;
  reconciler: Reconciler;
  addAgent(options?: { allowlist?: string[] }): Promise<{ agentId: string; tunnelId: string }>;
  /**
   * An agent not approved yet: its reports make routes no tunnel carries. `approve()` does what
   * an admin's approval does (tunnel, then the reconciler's hook) and gives the tunnel's id.
   */
  addPendingAgent(options?: { allowlist?: string[] }): { agentId: string; approve(): Promise<string> };
  /** Moves the clock of grace periods. */
  advance(seconds: number): void;
  /** Stores the container as a report would and runs the hook the API calls, scoped as it does. */
  report(agentId: string, container: Container): Promise<void>;
  remove(agentId: string, containerId: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * For the reconciler's tests: a real SQLite file in a temp dir, the Cloudflare emulator with
 * zone example.com, a private Redis (given), and a clock the test moves.
 */
export async function startReconcilerWorld(
  redis: RedisServerHandle,
  extra: Partial<ReconcilerOptions> = {},
  budget: CallBudgetOptions = {},
): Promise<ReconcilerWorld> {
  const cf: TestWorld = await startTestWorld(['example.com'], {}, budget);
  const dataDir = mkdtempSync(join(tmpdir(), 'tunnelfleet-reconciler-'));
  const db: SqliteDatabase = openDatabase(dataDir);
  const cloudflare = cf.layer();
  let clock = Date.now();
  const reconciler: Reconciler = await createReconciler({
    db,
    redisConnection: redis.url,
    cloudflare,
    logger: pino({ level: 'silent' }),
    graceSeconds: GRACE_SECONDS,
    debounceMs: 300,
    cron: null,
    now: () => new Date(clock),
    ...extra,
  });

  function addPendingAgent(options: { allowlist?: string[] } = {}) {
    const agentId = `ag_${randomBytes(8).toString('hex')}`;
    const keyId = `key_${randomBytes(6).toString('hex')}`;
    insertAgentKey(db, {
      id: keyId,
      name: keyId,
      secretHash: randomBytes(32).toString('hex'),
      hostnameAllowlist: options.allowlist ?? [],
      allowAnyHostname: options.allowlist === undefined,
      autoApprove: true,
    });
    insertAgent(db, { id: agentId, keyId, name: agentId, hostname: null, agentVersion: null });
    async function approve() {
      approveAgent(db, agentId);
      const tunnel = await cloudflare.tunnels.ensureTunnel(agentTunnelName(agentId));
      upsertTunnel(db, { id: tunnel.tunnelId, name: tunnel.name, accountId: cf.accountId, agentId });
      await reconciler.hooks.onAgentApproved(agentId);
      return tunnel.tunnelId;
    }
    return { agentId, approve };
  }

  /** An approved agent with its own tunnel at the emulator. */
  async function addAgent(options: { allowlist?: string[] } = {}) {
    const { agentId, approve } = addPendingAgent(options);
    return { agentId, tunnelId: await approve() };
  }

  return {
    cf,
    emulator: cf.emulator,
    db,
    dataDir,
    cloudflare,
    reconciler,
    addAgent,
    addPendingAgent,
    advance(seconds: number) {
      clock += seconds * 1000;
    },
    async report(agentId: string, container: Container) {
      const change = upsertContainer(db, agentId, container);
      if (change) await reconciler.hooks.onContainersChanged(agentId, { changes: [change] });
    },
    async remove(agentId: string, containerId: string) {
      const before = findContainer(db, agentId, containerId);
      if (markContainerRemoved(db, agentId, containerId))
        await reconciler.hooks.onContainersChanged(agentId, { changes: [{ containerId, before }] });
    },
    async close() {
      await reconciler.close();
      db.close();
      await cf.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function container(
  name: string,
  labels: Record<string, string>,
  state: Container['state'] = 'running',
): Container {
  return {
    id: randomBytes(32).toString('hex'),
    name,
    labels,
    state,
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

export function webLabels(hostname: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    'tunnelfleet.enable': 'true',
    'tunnelfleet.hostname': hostname,
    'tunnelfleet.service': 'http://web:80',
    ...more,
  };
}

/** Our CNAME(s) for a hostname at the emulator. */
export function cnames(world: ReconcilerWorld, hostname: string) {
  return world.emulator.dnsRecords('example.com').filter((r) => r.name === hostname);
}

export function ingressRules(
  world: ReconcilerWorld,
  tunnelId: string,
): { hostname?: string; service: string }[] {
  const config = world.emulator.tunnelConfig(tunnelId)?.config as {
    ingress?: { hostname?: string; service: string }[];
  };
  return config?.ingress ?? [];
}

/**
 * For a test file whose tests each start their own world: one private Redis for the file, and
 * each world closed after its test, with the emulator asked whether any call broke its spec.
 */
export function useReconcilerWorlds(): (
  extra?: Partial<ReconcilerOptions>,
  budget?: CallBudgetOptions,
) => Promise<ReconcilerWorld> {
  let redis: RedisServerHandle | undefined;
  let world: ReconcilerWorld | undefined;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    const closing = world;
    world = undefined;
    if (!closing) return;
    expect(closing.emulator.specViolations()).toEqual([]);
    await closing.close();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return async (extra = {}, budget = {}) => {
    world = await startReconcilerWorld(redis!, extra, budget);
    return world;
  };
}
