import { FLEET_EVENTS_PATH } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';

/** Reads a server-sent event stream, collecting the event names as they come. */
function readEvents(body: ReadableStream<Uint8Array>) {
  const events: string[] = [];
  let retry: string | undefined;
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const done = (async () => {
    for (;;) {
      const { value, done: ended } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (ended) return;
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        retry ??= /^retry: (\d+)$/m.exec(block)?.[1];
        const name = /^event: (\S+)$/m.exec(block)?.[1];
        if (name) events.push(name);
        end = buffer.indexOf('\n\n');
      }
    }
  })();
  return { events, retry: () => retry, done };
}

describe('the dashboard event stream over HTTP', () => {
  let fx: MasterFixture;
  beforeAll(async () => {
    fx = await startMasterFixture();
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('needs credentials', async () => {
    expect((await fetch(`${fx.master.url}${FLEET_EVENTS_PATH}`)).status).toBe(401);
  });

  it('relays what changed: an admin change, an agent registering and beating, a report', async () => {
    const stop = new AbortController();
    const answer = await fetch(`${fx.master.url}${FLEET_EVENTS_PATH}`, {
      headers: { authorization: `Bearer ${fx.adminToken}` },
      signal: stop.signal,
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = readEvents(answer.body!);
    try {
      const agent = await fx.enrollAgent({ name: 'events-host' });
      await waitForEvent(stream.events, 'agents');
      await fx.request('POST', '/api/v1/admin/access-policies', {
        token: fx.adminToken,
        body: { name: 'events-policy', spec: { decision: 'allow', include: [{ everyone: {} }] } },
      });
      await waitForEvent(stream.events, 'admin');
      await fx.reportSnapshot(agent, 1, []);
      await waitForEvent(stream.events, 'routes');
      expect(stream.retry()).toBe('2000');
    } finally {
      stop.abort();
      await stream.done;
    }
  });
});

async function waitForEvent(events: string[], name: string): Promise<void> {
  await waitFor(() => events.includes(name), { description: `a "${name}" event` });
}
