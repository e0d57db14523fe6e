import { afterEach, describe, expect, it } from 'vitest';
import { type EmulatorWorld, emulatorWithWorld } from './test-support.js';

describe('authentication and token scopes', () => {
  let w: EmulatorWorld;
  afterEach(() => w.emulator.close());

  it('answers 401 code 10000 to an unknown token and 400 code 9106 without one', async () => {
    w = await emulatorWithWorld();
    const unknown = await w.api('GET', '/zones', undefined, 'nope');
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual({
      success: false,
      errors: [{ code: 10000, message: 'Authentication error' }],
      messages: [],
      result: null,
    });
    const missing = await fetch(`${w.emulator.baseUrl}/zones`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { errors: Array<{ code: number }> }).errors[0]?.code).toBe(9106);
  });

  it('verifies tokens and keeps other accounts out with 403', async () => {
    w = await emulatorWithWorld();
    expect((await w.api('GET', '/user/tokens/verify')).body.result.status).toBe('active');
    expect((await w.api('GET', `/accounts/${w.account.id}/tokens/verify`)).status).toBe(200);
    const other = w.emulator.createAccount('Other');
    const foreign = await w.api('GET', `/accounts/${other.id}/cfd_tunnel`);
    expect(foreign.status).toBe(403);
    expect(foreign.body.errors[0]?.code).toBe(9109);
    expect((await w.api('GET', '/accounts')).body.result.map((a: { id: string }) => a.id)).toEqual([
      w.account.id,
    ]);
  });

  it('answers unknown paths with 7000 and wrong methods with 405', async () => {
    w = await emulatorWithWorld();
    expect((await w.api('GET', '/nothing/here')).body.errors[0]?.code).toBe(7000);
    expect((await w.api('PATCH', '/zones')).status).toBe(405);
  });
});

describe('rate limit', () => {
  let w: EmulatorWorld;
  afterEach(() => w.emulator.close());

  it('answers 429 with Retry-After past the budget and keeps blocking for the window', async () => {
    w = await emulatorWithWorld({ rateLimit: { requests: 3, windowSeconds: 2 } });
    for (let i = 0; i < 3; i++) expect((await w.api('GET', '/zones')).status).toBe(200);
    const limited = await w.api('GET', '/zones');
    expect(limited.status).toBe(429);
    expect(limited.body.errors[0]?.code).toBe(971);
    expect(Number(limited.headers.get('retry-after'))).toBe(2);
    const still = await w.api('GET', '/zones');
    expect(still.status).toBe(429);
    // Another token has its own budget.
    const other = w.emulator.createToken({ accountIds: [w.account.id], zoneNames: 'all', name: 'other' });
    expect((await w.api('GET', '/zones', undefined, other)).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let status = 429;
    while (status === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await w.api('GET', '/zones')).status;
    }
    expect(status).toBe(200);
  });
});

describe('faults', () => {
  let w: EmulatorWorld;
  afterEach(() => w.emulator.close());

  it('fails the next calls of one route with the given status', async () => {
    w = await emulatorWithWorld();
    const route = 'POST /zones/:id/dns_records';
    w.emulator.faults.set({ failNext: { route, status: 503, count: 2 } });
    expect((await w.api('GET', `/zones/${w.zone.id}/dns_records`)).status).toBe(200);
    const body = { type: 'A', name: 'x', content: '192.0.2.1', ttl: 1 };
    const first = await w.api('POST', `/zones/${w.zone.id}/dns_records`, body);
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ success: false, result: null });
    expect((await w.api('POST', `/zones/${w.zone.id}/dns_records`, body)).status).toBe(503);
    expect((await w.api('POST', `/zones/${w.zone.id}/dns_records`, body)).status).toBe(200);
    expect(w.emulator.dnsRecords(w.zone.id)).toHaveLength(1);
  });

  it('applies an error rate per route or to every route', async () => {
    w = await emulatorWithWorld();
    w.emulator.faults.set({ errorRate: { 'GET /zones': 1 } });
    expect((await w.api('GET', '/zones')).status).toBe(500);
    expect((await w.api('GET', `/zones/${w.zone.id}`)).status).toBe(200);
    w.emulator.faults.set({ errorRate: { '*': 0.5 } });
    const statuses = new Set<number>();
    for (let i = 0; i < 60; i++) statuses.add((await w.api('GET', `/zones/${w.zone.id}`)).status);
    expect(statuses).toEqual(new Set([200, 500]));
    w.emulator.faults.clear();
    expect((await w.api('GET', '/zones')).status).toBe(200);
  });

  it('drops connections without a reply', async () => {
    w = await emulatorWithWorld();
    w.emulator.faults.set({ dropConnections: 1 });
    await expect(w.api('GET', '/zones')).rejects.toThrow();
    expect((await w.api('GET', '/zones')).status).toBe(200);
    w.emulator.faults.set({ dropConnections: 0.999999 });
    await expect(w.api('GET', '/zones')).rejects.toThrow();
  });

  it('answers every call with 429 during a storm', async () => {
    w = await emulatorWithWorld();
    w.emulator.faults.set({ rateLimitStorm: true });
    const reply = await w.api('GET', '/zones');
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('1');
    w.emulator.faults.clear();
    expect((await w.api('GET', '/zones')).status).toBe(200);
  });

  it('adds latency', async () => {
    w = await emulatorWithWorld();
    w.emulator.faults.set({ latencyMs: 150 });
    const started = performance.now();
    await w.api('GET', '/zones');
    // A lower bound only: the emulator must have waited at least the injected latency.
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('logs every call with its route key, status and token name', async () => {
    w = await emulatorWithWorld();
    await w.api('GET', '/zones');
    await w.api('POST', `/zones/${w.zone.id}/dns_records`, {
      type: 'A',
      name: 'x',
      content: '192.0.2.1',
      ttl: 1,
    });
    await w.api('POST', `/zones/${w.zone.id}/dns_records`, { type: 'A', name: 'x', content: 'bad', ttl: 1 });
    expect(w.emulator.calls().map((c) => [c.route, c.status, c.token])).toEqual([
      ['GET /zones', 200, 'main'],
      ['POST /zones/:id/dns_records', 200, 'main'],
      ['POST /zones/:id/dns_records', 400, 'main'],
    ]);
    expect(w.emulator.writes()).toHaveLength(1);
    expect(w.emulator.countsByRoute()).toEqual({ 'GET /zones': 1, 'POST /zones/:id/dns_records': 2 });
    w.emulator.clearCalls();
    expect(w.emulator.calls()).toEqual([]);
  });
});
