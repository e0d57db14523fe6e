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

  it('answers 429 with Retry-After after 20 failures a minute, for valid credentials too, until the window ends', async () => {
    const agent = await fx.enrollAgent();
    for (let i = 0; i < 20; i++) {
      const answer =
        i % 2 === 0
          ? await fx.request('POST', AGENT_ROUTES.heartbeat, { token: generateApiKey().key, body: {} })
          : await fx.request('GET', '/api/v1/admin/agents', { token: 'tfa_guess' });
      expect(answer.status).toBe(401);
    }
    const limited = await fx.admin('GET', '/agents');
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const agentLimited = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=0`, {
      token: agent.key,
    });
    expect(agentLimited.status).toBe(429);

    fx.advanceClock(60_000);
    expect((await fx.admin('GET', '/agents')).status).toBe(200);
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

describe('createFailedAuthLimiter', () => {
  it('counts per address and forgets after the window', () => {
    let now = 0;
    const limiter = createFailedAuthLimiter({ maxFailures: 2, windowMs: 1000, now: () => now });
    limiter.recordFailure('a');
    limiter.assertAllowed('a');
    limiter.recordFailure('a');
    expect(() => limiter.assertAllowed('a')).toThrow(/too many/);
    limiter.assertAllowed('b');
    now = 1000;
    limiter.assertAllowed('a');
  });
});
