import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RouteRefusal, RoutingTableInput } from '@tunnelfleet/common';
import pino from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, expect } from 'vitest';
import { type Gateway, startGateway } from '../src/gateway/gateway.js';
import { startTestBackend, type TestBackend } from './test-backend.js';

/** The fields the tests read from the API's answers (an error body, a table, readiness). */
export interface ApiAnswer {
  error: { code: string; message: string; details?: Record<string, unknown> };
  version: number | null;
  /** `PUT /config`'s answer: the routes refused. */
  refused: RouteRefusal[];
  [key: string]: unknown;
}

export interface ProxyAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * A gateway in process on loopback and real backends, all stopped after each test: registers the
 * vitest hooks, so call it once at the top of a test file.
 */
export function useGatewayHarness() {
  const token = randomBytes(32).toString('hex');
  const logger = pino({ level: 'silent' });
  const cleanups: (() => Promise<unknown>)[] = [];
  const state = { dataDir: '' };

  beforeEach(async () => {
    state.dataDir = await mkdtemp(join(tmpdir(), 'gateway-'));
    const dir = state.dataDir;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function gateway(
    overrides: { headersTimeoutMs?: number; healthProbeIntervalMs?: number } = {},
  ): Promise<Gateway> {
    const started = await startGateway({
      listenPort: 0,
      listenHost: '127.0.0.1',
      apiPort: 0,
      apiHost: '127.0.0.1',
      apiToken: token,
      dataDir: state.dataDir,
      connectTimeoutMs: 2_000,
      headersTimeoutMs: overrides.headersTimeoutMs ?? 30_000,
      bodyTimeoutMs: 30_000,
      keepAliveTimeoutMs: 4_000,
      healthProbeIntervalMs: overrides.healthProbeIntervalMs ?? 100,
      logger,
    });
    cleanups.push(() => started.stop());
    return started;
  }

  async function backend(name: string): Promise<TestBackend> {
    const started = await startTestBackend(name);
    cleanups.push(() => started.close());
    return started;
  }

  async function api(
    gw: Gateway,
    method: string,
    path: string,
    body?: unknown,
    bearer: string | null = token,
  ) {
    const response = await request(`http://127.0.0.1:${gw.apiPort}${path}`, {
      method: method as 'GET',
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    return { status: response.statusCode, body: (await response.body.json()) as ApiAnswer };
  }

  async function push(gw: Gateway, table: RoutingTableInput) {
    const answer = await api(gw, 'PUT', '/config', table);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  }

  async function send(
    gw: Gateway,
    host: string,
    path = '/',
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<ProxyAnswer> {
    const response = await request(`http://127.0.0.1:${gw.proxyPort}${path}`, {
      method: (options.method ?? 'GET') as 'GET',
      headers: { host, ...options.headers },
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  }

  const get = (gw: Gateway, host: string, path = '/', headers: Record<string, string> = {}) =>
    send(gw, host, path, { headers });

  /** `GET /metrics` on the API port: Prometheus text. */
  async function metrics(gw: Gateway, bearer: string | null = token) {
    const response = await request(`http://127.0.0.1:${gw.apiPort}/metrics`, {
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    });
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  }

  return {
    token,
    metrics,
    cleanups,
    dataDir: () => state.dataDir,
    gateway,
    backend,
    api,
    push,
    get,
    send,
  };
}
