import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMasterClient,
  createMasterLink,
  createRetryDelay,
  MasterBusyError,
} from '../master-client/index.js';
import { createTunnelStateCache } from '../state/index.js';
import { registerAgent } from './register-agent.js';

const logger = pino({ level: 'silent' });
const KEY = `tfk_0123456789abcdef_${'k'.repeat(43)}`;
const BUSY_ANSWERS = 12;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/**
 * A master enrolling a fleet (issue 15): it answers `503 master_busy` with Retry-After to the
 * first BUSY_ANSWERS registrations, then registers the agent, as the real master's admission
 * control does (`master/src/http/admission-control.test.ts` tests that side).
 */
async function busyMaster(): Promise<{ url: string; registrations: () => number }> {
  let registrations = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.once('end', () => {
      registrations += 1;
      if (registrations <= BUSY_ANSWERS) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end('{"error":{"code":"master_busy","message":"the master is enrolling other hosts"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          agentId: 'ag_enrolled',
          status: 'approved',
          reportIntervalSeconds: 30,
          allowedHostnames: [],
          serverTime: new Date().toISOString(),
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    registrations: () => registrations,
  };
}

describe('registration against a master shedding load', () => {
  it('keeps registering through many 503 master_busy answers, never giving up, and caches its id', async () => {
    const master = await busyMaster();
    const dataDir = await mkdtemp(join(tmpdir(), 'tf-register-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const cache = createTunnelStateCache({ dataDir, logger });
    const client = createMasterClient({
      masterUrl: master.url,
      apiKey: KEY,
      link: createMasterLink(),
      requestTimeoutMs: 5_000,
    });
    const registration = await registerAgent({
      client,
      cache,
      logger,
      signal: new AbortController().signal,
      retry: { initialDelayMs: 1, maxDelayMs: 5 },
      request: async () => ({ name: 'host', agentVersion: '0.1.0', hostname: 'host.local', docker: null }),
    });
    expect(registration?.agentId).toBe('ag_enrolled');
    expect(master.registrations()).toBe(BUSY_ANSWERS + 1);
    expect(await cache.readAgentId()).toBe('ag_enrolled');
  });

  it('waits no less than the Retry-After of a busy master, even when its backoff is shorter', () => {
    const retry = createRetryDelay({ initialDelayMs: 1, maxDelayMs: 5 });
    expect(retry.next(new MasterBusyError('/api/v1/agent/register', 17_000, 'busy'))).toBeGreaterThanOrEqual(
      17_000,
    );
  });
});
