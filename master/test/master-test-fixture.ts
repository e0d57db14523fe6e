import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AGENT_ROUTES,
  type Command,
  type Container,
  type CreateKeyRequest,
  commandAckPath,
  loadConfig,
  masterConfigSpec,
  type RegisterRequest,
  snapshotFingerprint,
} from '@tunnelfleet/common';
import {
  type CloudflareEmulator,
  type RedisServerHandle,
  startCloudflareEmulator,
  startRedisServer,
  waitFor,
} from '@tunnelfleet/test';
import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { MasterHooks } from '#master/agents/ports.js';
import type { LoadProbe } from '#master/http/admission-control.js';
import { type RunningMaster, startMaster } from '#master/master.js';
import { findAgent } from '#master/store/agents.js';

/**
 * A real master for integration tests: private redis-server, SQLite in a temp dir, the Cloudflare
 * emulator, HTTP on a loopback port. Configured through the real environment loader.
 */
// biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field and assert on them
type Json = any;

export interface MasterFixture {
  master: RunningMaster;
  redis: RedisServerHandle;
  emulator: CloudflareEmulator;
  accountId: string;
  cloudflareToken: string;
  dataDir: string;
  adminToken: string;
  /** Moves the heartbeat clock forward. */
  advanceClock(ms: number): void;
  /** JSON request to the master; `token` is sent as a bearer. */
  request(
    method: string,
    path: string,
    options?: {
      token?: string;
      body?: unknown;
      rawBody?: string;
      contentType?: string;
      signal?: AbortSignal;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  admin(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  /**
   * Creates a key through the admin API and registers an agent with it. Without an allowlist the
   * key allows any hostname (`allowAnyHostname: true`).
   */
  /** Sends a full snapshot of `containers` as the agent, with `sequence`, as a real agent reports. */
  reportSnapshot(
    agent: { key: string; agentId: string },
    sequence: number,
    containers: readonly Container[],
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  enrollAgent(options?: {
    name?: string;
    hostnameAllowlist?: string[];
    autoApprove?: boolean;
    servicePolicy?: CreateKeyRequest['servicePolicy'];
  }): Promise<{ key: string; keyId: string; agentId: string; status: string }>;
  /** Live (not deleted) tunnels of that name at the emulator, read over its HTTP API. */
  liveTunnels(name: string): Promise<{ id: string; name: string }[]>;
  /**
   * A heartbeat as an agent sends it (a healthy cloudflared, Docker reachable), with these fields
   * added or replaced (e.g. `gateway`, `gatewayTraffic`).
   */
  heartbeat(
    agent: { key: string; agentId: string },
    extra?: Record<string, unknown>,
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  /** Takes the agent's next command (waiting up to 5 s) and acknowledges it as applied, as the agent does. */
  applyNext(key: string): Promise<Command>;
  /** Acknowledges `command` as applied with nothing changed, as an agent whose state already fits. */
  acknowledge(key: string, command: Command): ReturnType<MasterFixture['request']>;
  close(): Promise<void>;
}

export const ADMIN_TOKEN = `tfa_test_${'a'.repeat(40)}`;

export function registerBody(overrides: Partial<RegisterRequest> = {}): RegisterRequest {
  return { name: 'host', agentVersion: '0.1.0', hostname: 'host.local', docker: null, ...overrides };
}

export interface MasterFixtureOptions {
  adminToken?: string | null;
  reportIntervalSeconds?: number;
  printAdminToken?: (text: string) => void;
  hooks?: Partial<MasterHooks>;
  redis?: RedisServerHandle;
  dataDir?: string;
  /**
   * The Cloudflare of an earlier fixture (its emulator, account and token), left open at close:
   * a restarted master against the same Cloudflare.
   */
  cloudflare?: Pick<MasterFixture, 'emulator' | 'accountId' | 'cloudflareToken'>;
  /** More variables of `masterConfigSpec`, e.g. `{ TRUST_PROXY: 'loopback' }`. */
  env?: Record<string, string>;
  /** The emulator's rate limit per token (default Cloudflare's: 1,200 calls per 300 s). */
  cloudflareRateLimit?: { requests: number; windowSeconds: number };
  /** Admission control's load reading (the event loop's own delay unless given): forces overload. */
  loadProbe?: LoadProbe;
}

/**
 * One master fixture for the tests of the enclosing `describe` (or file): started before them,
 * with `zone` created at the emulator when given, closed after them. Read it in tests and hooks.
 */
export function useMasterFixture(
  options: MasterFixtureOptions & { zone?: string } = {},
): () => MasterFixture {
  let fixture: MasterFixture | undefined;
  beforeAll(async () => {
    fixture = await startMasterFixture(options);
    if (options.zone) fixture.emulator.createZone(options.zone, fixture.accountId);
  });
  afterAll(async () => {
    await fixture?.close();
  });
  return () => {
    if (!fixture) throw new Error('the master fixture is read before its beforeAll ran');
    return fixture;
  };
}

export async function startMasterFixture(options: MasterFixtureOptions = {}): Promise<MasterFixture> {
  const redis = options.redis ?? (await startRedisServer());
  const emulator =
    options.cloudflare?.emulator ??
    (await startCloudflareEmulator(
      options.cloudflareRateLimit ? { rateLimit: options.cloudflareRateLimit } : {},
    ));
  const account = options.cloudflare
    ? { id: options.cloudflare.accountId }
    : emulator.createAccount('tunnelfleet-test');
  const cloudflareToken =
    options.cloudflare?.cloudflareToken ??
    emulator.createToken({ accountIds: [account.id], zoneNames: 'all' });
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tunnelfleet-master-'));
  const adminToken = options.adminToken === undefined ? ADMIN_TOKEN : options.adminToken;
  const config = loadConfig(masterConfigSpec, {
    PORT: '0',
    HOST: '127.0.0.1',
    TUNNELFLEET_DATA_DIR: dataDir,
    REDIS_URL: redis.url,
    CLOUDFLARE_API_TOKEN: cloudflareToken,
    CLOUDFLARE_ACCOUNT_ID: account.id,
    CLOUDFLARE_API_BASE_URL: emulator.baseUrl,
    REPORT_INTERVAL_SECONDS: String(options.reportIntervalSeconds ?? 30),
    LOG_LEVEL: 'silent',
    // A test registers at once and expects an answer: a slow machine (or a test's own 16 MB
    // report) must not turn it into a 503. Admission control's own tests force the delay.
    ADMISSION_MAX_EVENT_LOOP_DELAY_MS: '0',
    ...(adminToken ? { TUNNELFLEET_ADMIN_TOKEN: adminToken } : {}),
    ...options.env,
  });
  let clockOffset = 0;
  const master = await startMaster(config, {
    logger: pino({ level: 'silent' }),
    now: () => Date.now() + clockOffset,
    printAdminToken: options.printAdminToken ?? (() => undefined),
    ...(options.hooks ? { hooks: options.hooks } : {}),
    ...(options.loadProbe ? { loadProbe: options.loadProbe } : {}),
  });

  const request: MasterFixture['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined || opts.body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      body = opts.rawBody ?? JSON.stringify(opts.body);
    }
    const response = await fetch(`${master.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };

  const fixture: MasterFixture = {
    master,
    redis,
    emulator,
    accountId: account.id,
    cloudflareToken,
    dataDir,
    adminToken: adminToken ?? '',
    advanceClock(ms) {
      clockOffset += ms;
    },
    request,
    admin: (method, path, body) =>
      request(method, `/api/v1/admin${path}`, {
        token: adminToken ?? '',
        ...(body === undefined ? {} : { body }),
      }),
    reportSnapshot: (agent, sequence, containers) =>
      request('POST', AGENT_ROUTES.reports, {
        token: agent.key,
        body: {
          agentId: agent.agentId,
          sequence,
          observedAt: new Date().toISOString(),
          kind: 'snapshot',
          fingerprint: snapshotFingerprint(containers),
          containers,
        },
      }),
    heartbeat: (agent, extra = {}) =>
      request('POST', AGENT_ROUTES.heartbeat, {
        token: agent.key,
        body: {
          agentId: agent.agentId,
          uptimeSeconds: 60,
          cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
          lastAppliedCommandVersion: null,
          dockerReachable: true,
          ...extra,
        },
      }),
    async enrollAgent(enroll = {}) {
      const created = await fixture.admin('POST', '/keys', {
        name: enroll.name ?? 'host',
        hostnameAllowlist: enroll.hostnameAllowlist ?? [],
        allowAnyHostname: enroll.hostnameAllowlist === undefined,
        autoApprove: enroll.autoApprove ?? true,
        ...(enroll.servicePolicy ? { servicePolicy: enroll.servicePolicy } : {}),
      });
      if (created.status !== 201) throw new Error(`key creation failed: ${JSON.stringify(created.body)}`);
      const registered = await request('POST', AGENT_ROUTES.register, {
        token: created.body.key,
        body: registerBody({ name: enroll.name ?? 'host' }),
      });
      if (registered.status !== 200)
        throw new Error(`registration failed: ${JSON.stringify(registered.body)}`);
      // Registration answers before the tunnel is made; like a real agent, the tests go on once
      // its start_tunnel is queued.
      if (registered.body.status === 'approved') {
        await waitFor(
          () => (findAgent(fixture.master.db, registered.body.agentId)?.commandVersion ?? 0) > 0,
          {
            description: `the tunnel of ${enroll.name ?? 'host'} provisioned and its start_tunnel queued`,
          },
        );
      }
      return {
        key: created.body.key,
        keyId: created.body.record.id,
        agentId: registered.body.agentId,
        status: registered.body.status,
      };
    },
    acknowledge(key, command) {
      return request('POST', commandAckPath(command.id), {
        token: key,
        body: {
          commandId: command.id,
          version: command.version,
          status: 'ok',
          result: { action: 'unchanged' },
        },
      });
    },
    async applyNext(key) {
      const answer = await request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=5`, { token: key });
      const command = answer.body?.command as Command | null | undefined;
      if (!command) throw new Error(`no command for the agent: ${JSON.stringify(answer.body)}`);
      const ack = await fixture.acknowledge(key, command);
      if (ack.status !== 200) throw new Error(`acknowledgement refused: ${JSON.stringify(ack.body)}`);
      return command;
    },
    async liveTunnels(name) {
      const url = `${emulator.baseUrl}/accounts/${account.id}/cfd_tunnel?is_deleted=false&name=${encodeURIComponent(name)}`;
      const response = await fetch(url, { headers: { authorization: `Bearer ${cloudflareToken}` } });
      const envelope = (await response.json()) as { result: { id: string; name: string }[] };
      return envelope.result;
    },
    async close() {
      await master.close();
      if (!options.cloudflare) await emulator.close();
      if (!options.redis) await redis.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return fixture;
}
