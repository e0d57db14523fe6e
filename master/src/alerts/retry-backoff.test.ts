import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './retry-backoff.js';

const policy = { maxAttempts: 5, baseMs: 1000, maxMs: 5000 };

describe('retryDelayMs', () => {
  it('doubles the step per failed attempt, with up to half of it random, capped', () => {
    const fixed = (random: number) => [1, 2, 3, 4].map((n) => retryDelayMs(n, policy, () => random));
    expect(fixed(0)).toEqual([500, 1000, 2000, 2500]);
    expect(fixed(1)).toEqual([1000, 2000, 4000, 5000]);
  });

  it('gives up after the last attempt', () => {
    expect(retryDelayMs(5, policy)).toBeUndefined();
  });
});
