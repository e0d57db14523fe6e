import { describe, expect, it } from 'vitest';
import { createBackoff } from './backoff.js';

describe('createBackoff', () => {
  it('doubles up to the cap, with jitter within half of the base', () => {
    const backoff = createBackoff({ initialDelayMs: 100, maxDelayMs: 1000 });
    const bases = [100, 200, 400, 800, 1000, 1000];
    for (const base of bases) {
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(base / 2);
      expect(delay).toBeLessThanOrEqual(base);
    }
    expect(backoff.attempts).toBe(bases.length);
  });

  it('starts over after reset', () => {
    const backoff = createBackoff({ initialDelayMs: 100, maxDelayMs: 1000 });
    for (let i = 0; i < 5; i++) backoff.next();
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBeLessThanOrEqual(100);
  });
});
