import { AGENT_ROUTES, generateApiKey } from '@tunnelfleet/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';
import { createFailedAuthLimiter } from './failed-auth-limiter.js';

describe('failed authentication limit over HTTP', () => {
  let fx: MasterFixture;
  beforeAll(async () => {
    fx = await startMasterFixture();
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('answers failures with 429 and Retry-After after 20 a minute, and still accepts valid credentials from that address', async () => {
    const agent = await fx.enrollAgent();
    for (let i = 0; i < 20; i++) {
      const answer =
        i % 2 === 0
          ? await fx.request('POST', AGENT_ROUTES.heartbeat, { token: generateApiKey().key, body: {} })
          : await fx.request('GET', '/api/v1/admin/agents', { token: 'tfa_guess' });
      expect(answer.status).toBe(401);
    }
    const limited = await fx.request('GET', '/api/v1/admin/agents', { token: 'tfa_guess' });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);

    // The lock-out the review found: the real admin and a real agent on the same address get in.
    expect((await fx.admin('GET', '/agents')).status).toBe(200);
    const agentPoll = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=0`, {
      token: agent.key,
    });
    expect(agentPoll.status).not.toBe(429);
    expect(agentPoll.status).not.toBe(401);

    fx.advanceClock(60_000);
    expect((await fx.request('GET', '/api/v1/admin/agents', { token: 'tfa_guess' })).status).toBe(401);
  });
});

describe('failed authentication limit behind a TLS proxy', () => {
  it.each([
    ['loopback', 'counts each forwarded client', 401],
    ['false', 'counts every client as the proxy (the default)', 429],
  ])('TRUST_PROXY=%s %s', async (trustProxy, _what, otherClientStatus) => {
    const fx = await startMasterFixture({ env: { TRUST_PROXY: trustProxy } });
    try {
      const guess = (client: string) =>
        fx.request('GET', '/api/v1/admin/agents', {
          token: 'tfa_guess',
          headers: { 'x-forwarded-for': client },
        });
      for (let i = 0; i < 20; i++) expect((await guess('203.0.113.1')).status).toBe(401);
      expect((await guess('203.0.113.1')).status).toBe(429);
      expect((await guess('203.0.113.2')).status).toBe(otherClientStatus);
    } finally {
      await fx.close();
    }
  });
});

describe('failed authentication limit per key id', () => {
  it('refuses guesses at one key from many addresses, while the key itself still works', async () => {
    const fx = await startMasterFixture({ env: { TRUST_PROXY: 'loopback' } });
    try {
      const agent = await fx.enrollAgent();
      const wrongSecret = `tfk_${agent.keyId}_${generateApiKey().secret}`;
      const guessFrom = (client: number) =>
        fx.request('POST', AGENT_ROUTES.heartbeat, {
          token: wrongSecret,
          body: {},
          headers: { 'x-forwarded-for': `198.51.100.${client}` },
        });
      for (let i = 0; i < 20; i++) expect((await guessFrom(i)).status).toBe(401);
      const limited = await guessFrom(200);
      expect(limited.status).toBe(429);
      expect(limited.body.error.message).toMatch(/this key/);
      const poll = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=0`, {
        token: agent.key,
        headers: { 'x-forwarded-for': '198.51.100.200' },
      });
      expect([401, 429]).not.toContain(poll.status);
    } finally {
      await fx.close();
    }
  });
});

describe('createFailedAuthLimiter', () => {
  it('refuses a subject after maxFailures in its window, per address and per key id, and forgets after the window', () => {
    let now = 0;
    const limiter = createFailedAuthLimiter({ maxFailures: 2, windowMs: 1000, now: () => now });
    expect(limiter.recordFailure({ address: 'a', keyId: 'k' })).toBeUndefined();
    expect(limiter.recordFailure({ address: 'a' })).toBeUndefined();
    expect(limiter.recordFailure({ address: 'a' })?.message).toMatch(/this address/);
    expect(limiter.recordFailure({ address: 'b', keyId: 'k' })).toBeUndefined();
    expect(limiter.recordFailure({ address: 'c', keyId: 'k' })?.message).toMatch(/this key/);
    expect(limiter.recordFailure({ address: 'd' })).toBeUndefined();
    now = 1000;
    expect(limiter.recordFailure({ address: 'a', keyId: 'k' })).toBeUndefined();
  });
});
