import { AGENT_ROUTES, MAX_AGENT_BODY_BYTES, PROTOCOL_LIMITS } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';

/** Flooding from one agent (issue 11, item 8): reports, long-polls and body size are bounded per agent. */
let fx: MasterFixture;
beforeAll(async () => {
  // A small bucket so the test spends it in a few requests: 3 at once, then one every 10 s.
  fx = await startMasterFixture({ env: { AGENT_REPORT_BURST: '3', AGENT_REPORTS_PER_MINUTE: '6' } });
});
afterAll(async () => {
  await fx?.close();
});

let sequence = 0;
function event(agentId: string) {
  return {
    agentId,
    sequence: ++sequence,
    observedAt: new Date().toISOString(),
    kind: 'event',
    change: { action: 'remove', containerId: 'c'.repeat(64) },
  };
}

function snapshot(agentId: string, containers: unknown[]) {
  return {
    agentId,
    sequence: ++sequence,
    observedAt: new Date().toISOString(),
    kind: 'snapshot',
    fingerprint: `sha256:${'0'.repeat(64)}`,
    containers,
  };
}

/** A container without our labels whose JSON is exactly `bytes` long. */
function containerOfSize(index: number, bytes: number) {
  const labels: Record<string, string> = {};
  const container = {
    id: index.toString(16).padStart(64, '0'),
    name: `c${index}`,
    labels,
    state: 'running',
    networks: {},
    exposedPorts: [],
  };
  // Label values are at most labelValueLength characters: spread the padding over several.
  for (let n = 0; JSON.stringify(container).length < bytes; n++) {
    labels[`p${n}`] = '';
    const missing = bytes - JSON.stringify(container).length;
    labels[`p${n}`] = 'x'.repeat(Math.max(0, Math.min(PROTOCOL_LIMITS.labelValueLength, missing)));
  }
  return container;
}

describe('report rate limit per agent', () => {
  it('answers 429 with Retry-After once the burst is spent, before reading the body, and leaves other agents alone', async () => {
    const flooder = await fx.enrollAgent({ name: 'flooder' });
    const neighbour = await fx.enrollAgent({ name: 'neighbour' });
    const report = (agent: { key: string; agentId: string }, body: unknown = event(agent.agentId)) =>
      fx.request('POST', AGENT_ROUTES.reports, { token: agent.key, body });

    for (let i = 0; i < 3; i++) expect((await report(flooder)).status).toBe(200);
    const limited = await report(flooder);
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('rate_limited');
    expect(limited.body.error.message).toMatch(/too many reports/);
    expect(Number(limited.headers.get('retry-after'))).toBe(10);
    // Refused before parsing: a body the schema would reject gets the same 429, not a 400.
    expect((await report(flooder, { not: 'a report' })).status).toBe(429);

    expect((await report(neighbour)).status).toBe(200);

    // The bucket refills at the steady rate: one report per 10 s.
    fx.advanceClock(10_000);
    const accepted = await report(flooder);
    expect(accepted.status).toBe(200);
    expect(accepted.body.status).toBe('accepted');
    expect((await report(flooder)).status).toBe(429);
  });

  it('charges a large report one more token per 256 KiB of body', async () => {
    const agent = await fx.enrollAgent({ name: 'big-reporter' });
    // 512 KiB of valid JSON (whitespace is JSON): 1 + 2 tokens, the whole bucket of 3.
    const large = JSON.stringify(event(agent.agentId)).padEnd(512 * 1024, ' ');
    expect(
      (await fx.request('POST', AGENT_ROUTES.reports, { token: agent.key, rawBody: large })).status,
    ).toBe(200);
    const next = await fx.request('POST', AGENT_ROUTES.reports, {
      token: agent.key,
      body: event(agent.agentId),
    });
    expect(next.status).toBe(429);
    expect(Number(next.headers.get('retry-after'))).toBe(10);
  });
});

describe('long-polls per agent', () => {
  it('holds at most two: a third ends the oldest with no command, and the newest receives the next one', async () => {
    const agent = await fx.enrollAgent({ name: 'poller', autoApprove: false });
    const other = await fx.enrollAgent({ name: 'other-poller', autoApprove: false });
    const aborts: AbortController[] = [];
    const poll = (key: string) => {
      const abort = new AbortController();
      aborts.push(abort);
      const answer = fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=30`, {
        token: key,
        signal: abort.signal,
      });
      const state = { settled: false, answer };
      answer.then(
        () => {
          state.settled = true;
        },
        () => {
          state.settled = true;
        },
      );
      return state;
    };
    try {
      const otherPoll = poll(other.key);
      const first = poll(agent.key);
      await waitFor(() => fx.master.openLongPolls() === 2, { description: 'two open polls' });
      const second = poll(agent.key);
      await waitFor(() => fx.master.openLongPolls() === 3, { description: 'three open polls' });
      const third = poll(agent.key);

      const ended = await first.answer;
      expect(ended.status).toBe(200);
      expect(ended.body).toEqual({ command: null });
      await waitFor(() => fx.master.openLongPolls() === 3, { description: 'the oldest poll ended' });
      expect([second.settled, third.settled, otherPoll.settled]).toEqual([false, false, false]);

      // Approval queues start_tunnel: one of the agent's two remaining polls receives it.
      expect((await fx.admin('POST', `/agents/${agent.agentId}/approve`)).status).toBe(200);
      const delivered = await Promise.race([second.answer, third.answer]);
      expect(delivered.status).toBe(200);
      expect(delivered.body.command.type).toBe('start_tunnel');
      expect(otherPoll.settled).toBe(false);
    } finally {
      for (const abort of aborts) abort.abort();
    }
  });
});

describe('report body limit', () => {
  // A largest snapshot costs 63 tokens: a bucket for the several these tests send.
  let big: MasterFixture;
  beforeAll(async () => {
    big = await startMasterFixture({ env: { AGENT_REPORT_BURST: '1000' } });
  });
  afterAll(async () => {
    await big?.close();
  });

  it('is the largest valid snapshot: containersPerSnapshot containers of containerJsonBytes each', async () => {
    const agent = await big.enrollAgent({ name: 'big-host' });
    const containers = Array.from({ length: PROTOCOL_LIMITS.containersPerSnapshot }, (_, i) =>
      containerOfSize(i, PROTOCOL_LIMITS.containerJsonBytes),
    );
    expect(JSON.stringify(containers[0]).length).toBe(PROTOCOL_LIMITS.containerJsonBytes);
    const largest = JSON.stringify(snapshot(agent.agentId, containers));
    expect(largest.length).toBeLessThanOrEqual(MAX_AGENT_BODY_BYTES);
    const accepted = await big.request('POST', AGENT_ROUTES.reports, { token: agent.key, rawBody: largest });
    expect(accepted.status).toBe(200);
    expect(accepted.body.status).toBe('accepted');

    // JSON may carry whitespace: a valid snapshot padded to exactly the limit passes, one byte more does not.
    const body = JSON.stringify(snapshot(agent.agentId, containers.slice(0, 1)));
    const atLimit = body.padEnd(MAX_AGENT_BODY_BYTES, ' ');
    expect(
      (await big.request('POST', AGENT_ROUTES.reports, { token: agent.key, rawBody: atLimit })).status,
    ).toBe(200);
    const over = await big.request('POST', AGENT_ROUTES.reports, {
      token: agent.key,
      rawBody: `${atLimit} `,
    });
    expect(over.status).toBe(413);
    expect(over.body.error.code).toBe('entity_too_large');
  });

  it('refuses a container whose JSON is over containerJsonBytes, naming the limit', async () => {
    const agent = await big.enrollAgent({ name: 'fat-container' });
    const answer = await big.request('POST', AGENT_ROUTES.reports, {
      token: agent.key,
      body: snapshot(agent.agentId, [containerOfSize(1, PROTOCOL_LIMITS.containerJsonBytes + 1)]),
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(JSON.stringify(answer.body.error)).toContain(
      `at most ${PROTOCOL_LIMITS.containerJsonBytes} bytes`,
    );
  });
});
