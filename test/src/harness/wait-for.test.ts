import { describe, expect, it } from 'vitest';
import { WaitTimeoutError } from './harness-error.js';
import { waitFor } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value of the condition', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), {
      description: 'the third call',
      intervalMs: 1,
    });
    expect(value).toEqual({ calls: 3 });
  });

  it('on timeout names what was awaited and the last value seen', async () => {
    const error = await waitFor(() => ({ ready: false }).ready, {
      description: 'the route to be active',
      timeoutMs: 30,
      intervalMs: 5,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toBe(
      'Timed out after 30 ms waiting for the route to be active; last value: false',
    );
  });

  it('treats a throwing condition as not yet, and reports its last error', async () => {
    const error = await waitFor(
      () => {
        throw new Error('connection refused');
      },
      { description: 'the master', timeoutMs: 20, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/waiting for the master; last error: connection refused$/);
  });
});
