import { describe, expect, it } from 'vitest';
import { deadlineSignal } from './deadline-signal.js';

function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true }),
  );
}

describe('deadlineSignal', () => {
  it('aborts with a TimeoutError once the deadline passes', async () => {
    const { signal } = deadlineSignal(20);
    const reason = (await aborted(signal)) as DOMException;
    expect(reason.name).toBe('TimeoutError');
    expect(reason.message).toBe('no answer within 20 ms');
  });

  it('aborts with the parent, and follows an already aborted parent at once', async () => {
    const parent = new AbortController();
    const { signal } = deadlineSignal(60_000, parent.signal);
    const reason = aborted(signal);
    parent.abort(new Error('stopping'));
    expect(((await reason) as Error).message).toBe('stopping');
    expect(deadlineSignal(60_000, parent.signal).signal.aborted).toBe(true);
  });

  it('once cleared, neither the deadline nor the parent aborts it', async () => {
    const parent = new AbortController();
    const { signal, clear } = deadlineSignal(10, parent.signal);
    clear();
    // A later deadline of its own has passed by the time this one aborts.
    await aborted(deadlineSignal(30).signal);
    parent.abort();
    expect(signal.aborted).toBe(false);
  });

  it('still aborts a request under garbage collection pressure', async () => {
    // What AbortSignal.timeout lost in Node 20: nothing but the timer refers to this controller.
    const reason = new Promise<string>((resolve) => {
      deadlineSignal(50).signal.addEventListener('abort', function (this: AbortSignal) {
        resolve((this.reason as DOMException).name);
      });
    });
    const garbage: unknown[] = [];
    for (let i = 0; i < 50; i++) garbage.push(new Array(100_000).fill(i));
    garbage.length = 0;
    expect(await reason).toBe('TimeoutError');
  });
});
