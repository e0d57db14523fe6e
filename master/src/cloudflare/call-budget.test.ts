import { afterEach, describe, expect, it } from 'vitest';
import { busiestWindow, startTestWorld, type TestWorld, until } from '../../test/cloudflare-test-world.js';
import { CallBudgetQueueFullError, type CallEvent } from './call-budget.js';

describe('call budget against the emulator', () => {
  let world: TestWorld | undefined;
  afterEach(async () => {
    expect(world?.emulator.specViolations()).toEqual([]);
    await world?.close();
  });

  it('keeps a burst under the per-token limit, so the emulator never answers 429', async () => {
    const limit = { requests: 10, windowSeconds: 1 };
    world = await startTestWorld(['example.com'], { rateLimit: limit }, { limit: 10, windowMs: 1000 });
    const creds = world.credentials();
    const client = creds.account().client;
    await Promise.all(Array.from({ length: 30 }, () => client.zones.list({ per_page: 50 })));
    const calls = world.emulator.calls();
    expect(calls).toHaveLength(30);
    expect(calls.filter((c) => c.status === 429)).toEqual([]);
    expect(busiestWindow(calls, 1000)).toBeLessThanOrEqual(limit.requests);
    expect(creds.account().budget.counters()).toMatchObject({ ok: 30, rate_limited: 0 });
  });

  it('pauses the whole token for Retry-After on a 429, then resends and succeeds', async () => {
    world = await startTestWorld();
    const events: CallEvent[] = [];
    const creds = world.credentials({ budget: { onCall: (e) => events.push(e) } });
    const client = creds.account().client;
    const emulator = world.emulator;
    emulator.faults.set({ rateLimitStorm: true });
    const first = client.zones.list({ per_page: 50 });
    const second = client.accounts.list();
    await until(() => emulator.calls().filter((c) => c.status === 429).length >= 2, 'two 429 replies');
    emulator.faults.clear();
    const [zones, accounts] = await Promise.all([first, second]);
    expect(zones.result.map((z) => z.name)).toEqual(['example.com']);
    expect(accounts.result).toHaveLength(1);

    // Both requests were in flight when the first 429 came back; Retry-After is 1 s, and the
    // token sent nothing more until it had passed.
    const times = emulator
      .calls()
      .map((c) => c.time)
      .sort((a, b) => a - b);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(950);
    expect(events.filter((e) => e.result === 'rate_limited').length).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e.result === 'ok')).toHaveLength(2);
  });

  it('counts 5xx and connection errors, which the layer retries with backoff', async () => {
    world = await startTestWorld();
    const creds = world.credentials();
    world.emulator.faults.set({ failNext: { route: '*', status: 502, count: 2 }, dropConnections: 1 });
    const zone = await creds.resolveZone('app.example.com');
    expect(zone.zoneName).toBe('example.com');
    expect(creds.account().budget.counters()).toMatchObject({ ok: 1, server_error: 2, network_error: 1 });
  });

  it('refuses calls beyond its queue bound with a typed error, says so once, and takes calls again once it drains', async () => {
    world = await startTestWorld();
    const full: { token: string; queued: number }[] = [];
    const creds = world.credentials({
      budget: { limit: 2, windowMs: 60_000, safetyMargin: 0, maxQueued: 3, onQueueFull: (e) => full.push(e) },
    });
    const budget = creds.account().budget;
    const url = `${world.emulator.baseUrl}/user/tokens/verify`;
    const sent = [budget.fetch(url), budget.fetch(url)];
    await Promise.all(sent);
    // The window is used up: these three wait for a minute.
    const waiting = [budget.fetch(url), budget.fetch(url), budget.fetch(url)];
    expect(budget.queued()).toBe(3);
    await expect(budget.fetch(url)).rejects.toBeInstanceOf(CallBudgetQueueFullError);
    await expect(budget.fetch(url)).rejects.toThrow(/3 requests already wait/);
    expect(full).toEqual([{ token: budget.tokenName, queued: 3 }]);
    for (const call of waiting) call.catch(() => {});
  });
});
