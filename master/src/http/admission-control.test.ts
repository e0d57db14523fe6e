import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { AGENT_ROUTES } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';
import type { LoadProbe } from './admission-control.js';

/**
 * Admission control (issue 15): while the master is overloaded a new host is asked to come back
 * (503 `master_busy`, jittered Retry-After) and nothing of it is kept; enrolled hosts' heartbeats,
 * long-polls and reports still get through. The overload is forced through the load probe, so no
 * assertion depends on how fast this machine is.
 */
let fx: MasterFixture;
let delayMs = 0;
const probe: LoadProbe = { eventLoopDelayMs: () => delayMs, stop: () => undefined };

beforeAll(async () => {
  fx = await startMasterFixture({
    loadProbe: probe,
    env: {
      ADMISSION_MAX_EVENT_LOOP_DELAY_MS: '100',
      ADMISSION_MAX_REGISTRATIONS: '1',
      ADMISSION_RETRY_AFTER_SECONDS: '10',
    },
  });
});
afterAll(async () => {
  await fx?.close();
});

async function createKey(name: string): Promise<string> {
  const created = await fx.admin('POST', '/keys', { name, allowAnyHostname: true, autoApprove: true });
  expect(created.status).toBe(201);
  return created.body.key as string;
}

function expectBusy(answer: { status: number; body: { error: { code: string } }; headers: Headers }) {
  expect(answer.status).toBe(503);
  expect(answer.body.error.code).toBe('master_busy');
  // Jittered between the setting and twice it, so refused hosts do not come back together.
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(10);
  expect(retryAfter).toBeLessThanOrEqual(20);
}

async function agentNames(): Promise<string[]> {
  const listed = await fx.admin('GET', '/agents');
  expect(listed.status).toBe(200);
  return (listed.body.agents as { name: string }[]).map((agent) => agent.name);
}

describe('admission control under a slow event loop', () => {
  it('refuses a registration with 503 master_busy and Retry-After, keeping nothing, then admits it', async () => {
    const key = await createKey('late-host');
    delayMs = 500;
    try {
      const refused = await fx.request('POST', AGENT_ROUTES.register, {
        token: key,
        body: registerBody({ name: 'late-host' }),
      });
      expectBusy(refused);
      expect(await agentNames()).not.toContain('late-host');
      const metrics = await fx.request('GET', '/metrics');
      expect(metrics.body).toMatch(/^tunnelfleet_admission_refused_total [1-9]/m);
    } finally {
      delayMs = 0;
    }
    const admitted = await fx.request('POST', AGENT_ROUTES.register, {
      token: key,
      body: registerBody({ name: 'late-host' }),
    });
    expect(admitted.status).toBe(200);
    expect(admitted.body.status).toBe('approved');
  });

  it("keeps enrolled hosts' heartbeats, long-polls and reports, and holds back a new host's first snapshot", async () => {
    const enrolled = await fx.enrollAgent({ name: 'enrolled-host' });
    expect((await fx.reportSnapshot(enrolled, 1, [])).status).toBe(200);
    const fresh = await fx.enrollAgent({ name: 'fresh-host' });
    delayMs = 500;
    try {
      expect((await fx.heartbeat(enrolled)).status).toBe(200);
      // Its start_tunnel, queued at enrolment, is delivered by the long-poll.
      expect((await fx.applyNext(enrolled.key)).type).toBe('start_tunnel');
      expect((await fx.reportSnapshot(enrolled, 2, [])).status).toBe(200);
      // The new host's first snapshot plans all its containers: it waits like its registration.
      expectBusy(await fx.reportSnapshot(fresh, 1, []));
      expect((await fx.heartbeat(fresh)).body.snapshotRequested).toBe(true);
    } finally {
      delayMs = 0;
    }
    expect((await fx.reportSnapshot(fresh, 1, [])).status).toBe(200);
    expect((await fx.heartbeat(fresh)).body.snapshotRequested).toBe(false);
  });
});

describe('admission control with too many registrations in flight', () => {
  it('refuses a registration while another is being answered, and admits the next once it is', async () => {
    const key = await createKey('slow-host');
    const url = new URL(AGENT_ROUTES.register, fx.master.url);
    const body = JSON.stringify(registerBody({ name: 'slow-host' }));
    // The first registration's body is held back: it stays in flight until the rest is sent.
    const held = httpRequest(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
      },
    });
    const heldAnswer = new Promise<number>((resolve, reject) => {
      held.once('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      held.once('error', reject);
    });
    const other = await createKey('other-host');
    // Express admits a request in the server's own `request` listener, before this one runs.
    const seen = once(fx.master.server, 'request');
    held.write(body.slice(0, 10));
    held.flushHeaders();
    await seen;

    expectBusy(
      await fx.request('POST', AGENT_ROUTES.register, {
        token: other,
        body: registerBody({ name: 'other-host' }),
      }),
    );
    expect(await agentNames()).not.toContain('other-host');

    held.end(body.slice(10));
    expect(await heldAnswer).toBe(200);
    const admitted = await waitFor(
      async () => {
        const answer = await fx.request('POST', AGENT_ROUTES.register, {
          token: other,
          body: registerBody({ name: 'other-host' }),
        });
        return answer.status === 200 ? answer : undefined;
      },
      { description: 'the next registration admitted once the held one was answered' },
    );
    expect(admitted.body.status).toBe('approved');
    expect(await agentNames()).toEqual(expect.arrayContaining(['slow-host', 'other-host']));
  });
});
