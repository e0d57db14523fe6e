import { afterEach, describe, expect, it } from 'vitest';
import { busiestWindow, startTestWorld, type TestWorld, until } from '../../test/cloudflare-test-world.js';
import { type LaneTicket, laneFetchOptions } from './budget-lanes.js';
import { CallBudgetQueueFullError, type CallEvent } from './call-budget.js';
import { listAll } from './pagination.js';

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

  it("counts a lane's client's calls on its ticket, every page of a list included, and no other client's", async () => {
    world = await startTestWorld(['a.example', 'b.example', 'c.example']);
    const creds = world.credentials();
    const drift: LaneTicket = { lane: 'drift', calls: 0 };
    const zones = await listAll(() => creds.inLane(drift).account().client.zones.list({ per_page: 1 }), {});
    expect(zones.map((z) => z.name).sort()).toEqual(['a.example', 'b.example', 'c.example']);
    expect(world.emulator.calls()).toHaveLength(3);
    expect(drift.calls).toBe(3);
    // The same token's own client: changes, not counted on the ticket.
    await creds.account().client.zones.list({ per_page: 50 });
    expect(drift.calls).toBe(3);
    expect(creds.account().budget.counters()).toMatchObject({ ok: 4 });
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

describe('budget lanes', () => {
  let world: TestWorld | undefined;
  afterEach(async () => {
    await world?.close();
  });

  // Each call names itself in its path (a zone id of the API's shape), so the emulator's log shows
  // the order they were sent in.
  const zoneIdOf = (name: string) => Buffer.from(name).toString('hex').padEnd(32, '0');
  const nameOf = (path: string) => {
    const id = /\/zones\/([0-9a-f]{32})$/.exec(path)?.[1];
    return id === undefined ? undefined : Buffer.from(id, 'hex').toString().replace(/\0+$/, '');
  };
  const sentOrder = (w: TestWorld, calls = w.emulator.calls()) =>
    calls.map((c) => nameOf(c.path)).filter((name) => name !== undefined);

  it('serves every waiting change before any drift check, and keeps drift within its share of each window', async () => {
    world = await startTestWorld();
    const creds = world.credentials({
      budget: { limit: 2, windowMs: 400, safetyMargin: 0, driftShare: 0.5 },
    });
    const { budget } = creds.account();
    const at = (name: string) => `${world!.emulator.baseUrl}/zones/${zoneIdOf(name)}`;
    // The window is full: what follows waits, the drift checks first in arrival.
    await Promise.all([budget.fetch(at('fill-1')), budget.fetch(at('fill-2'))]);
    const drift = { lane: 'drift' as const, calls: 0 };
    const driftCalls = Promise.all(
      [1, 2, 3].map((n) => budget.fetch(at(`drift-${n}`), laneFetchOptions(drift))),
    );
    const changes = Promise.all([1, 2, 3].map((n) => budget.fetch(at(`change-${n}`))));
    expect(budget.state().queued).toEqual({ change: 3, enrol: 0, sweep: 0, drift: 3 });
    await Promise.all([driftCalls, changes]);

    expect(sentOrder(world)).toEqual([
      'fill-1',
      'fill-2',
      'change-1',
      'change-2',
      'change-3',
      'drift-1',
      'drift-2',
      'drift-3',
    ]);
    expect(drift.calls).toBe(3);
    // One drift call per window at most (its share: half of two), whatever the changes left free.
    const driftCallsSent = world.emulator.calls().filter((c) => nameOf(c.path)?.startsWith('drift-'));
    expect(busiestWindow(driftCallsSent, 400)).toBeLessThanOrEqual(1);
  });

  it('lets changes and enrolments take turns while both wait, and serves both before the sweep', async () => {
    world = await startTestWorld();
    const creds = world.credentials({ budget: { limit: 2, windowMs: 300, safetyMargin: 0 } });
    const { budget } = creds.account();
    const at = (name: string) => `${world!.emulator.baseUrl}/zones/${zoneIdOf(name)}`;
    // The window is full (two changes): what follows waits, a backlog of enrolments first.
    await Promise.all([budget.fetch(at('fill-1')), budget.fetch(at('fill-2'))]);
    const sweep = budget.fetch(at('sweep-1'), laneFetchOptions({ lane: 'sweep' }));
    const enrol = laneFetchOptions({ lane: 'enrol' });
    const enrolments = Promise.all([1, 2, 3, 4, 5].map((n) => budget.fetch(at(`enrol-${n}`), enrol)));
    const changes = Promise.all([1, 2, 3].map((n) => budget.fetch(at(`change-${n}`))));
    expect(budget.state().queued).toEqual({ change: 3, enrol: 5, sweep: 1, drift: 0 });
    await Promise.all([sweep, enrolments, changes]);

    expect(sentOrder(world)).toEqual([
      'fill-1',
      'fill-2',
      'enrol-1',
      'change-1',
      'enrol-2',
      'change-2',
      'enrol-3',
      'change-3',
      'enrol-4',
      'enrol-5',
      'sweep-1',
    ]);
  });

  it('promotes a waiting drift check to the change lane when a change needs its target', async () => {
    world = await startTestWorld();
    const creds = world.credentials({ budget: { limit: 1, windowMs: 300, safetyMargin: 0, driftShare: 1 } });
    const { budget } = creds.account();
    const at = (name: string) => `${world!.emulator.baseUrl}/zones/${zoneIdOf(name)}`;
    await budget.fetch(at('fill-1'));
    const other = budget.fetch(at('drift-1'), laneFetchOptions({ lane: 'drift' }));
    const ticket: LaneTicket = { lane: 'drift' };
    const promoted = budget.fetch(at('drift-2'), laneFetchOptions(ticket));
    const change = budget.fetch(at('change-1'));
    creds.lanes.promote(ticket);
    expect(budget.state().queued).toMatchObject({ change: 2, drift: 1 });
    await Promise.all([other, promoted, change]);
    expect(sentOrder(world)).toEqual(['fill-1', 'drift-2', 'change-1', 'drift-1']);
  });

  it('when another tool uses up the token, pauses for Retry-After, says so, and sends every change in order', async () => {
    world = await startTestWorld(['example.com'], { rateLimit: { requests: 4, windowSeconds: 1 } });
    const paused: { token: string; retryAfterMs: number }[] = [];
    const creds = world.credentials({ budget: { onPaused: (e) => paused.push(e) } });
    const { budget } = creds.account();
    const at = (name: string) => `${world!.emulator.baseUrl}/zones/${zoneIdOf(name)}`;
    // The operator's other tool, on the same token, spends the whole window first.
    const outside = { authorization: `Bearer ${world.defaultToken}` };
    for (const n of [1, 2, 3, 4]) await fetch(at(`outside-${n}`), { headers: outside });
    const changes = [1, 2, 3, 4, 5].map((n) => budget.fetch(at(`change-${n}`), { headers: outside }));
    const replies = await Promise.all(changes);

    expect(replies.every((r) => r.status !== 429)).toBe(true);
    const delivered = sentOrder(
      world,
      world.emulator.calls().filter((c) => c.status !== 429),
    );
    expect(delivered).toEqual([
      'outside-1',
      'outside-2',
      'outside-3',
      'outside-4',
      'change-1',
      'change-2',
      'change-3',
      'change-4',
      'change-5',
    ]);
    // Told once per pause (a resend at the window's edge may meet a second one), not once per 429.
    expect(paused.length).toBeGreaterThanOrEqual(1);
    expect(paused.length).toBeLessThanOrEqual(budget.counters().rate_limited);
    expect(paused[0]).toMatchObject({ token: budget.tokenName, retryAfterMs: 1000 });
    expect(budget.counters().rate_limited).toBeGreaterThanOrEqual(1);
  });
});
