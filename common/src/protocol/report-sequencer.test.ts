import { describe, expect, it } from 'vitest';
import { createReportSequencer } from './report-sequencer.js';

describe('createReportSequencer', () => {
  it('increases even when the clock stands still or goes back', () => {
    let now = 1_700_000_000_000;
    const next = createReportSequencer(() => now);
    const first = next();
    const second = next();
    now -= 60_000;
    const third = next();
    expect(second).toBeGreaterThan(first);
    expect(third).toBeGreaterThan(second);
  });

  it('starts above the last run of an earlier process (restart with a later clock)', () => {
    const earlier = createReportSequencer(() => 1_700_000_000_000);
    for (let i = 0; i < 1000; i++) earlier();
    const last = earlier();
    const later = createReportSequencer(() => 1_700_000_000_002);
    expect(later()).toBeGreaterThan(last);
    expect(Number.isSafeInteger(last)).toBe(true);
  });
});
