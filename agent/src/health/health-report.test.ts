import { describe, expect, it } from 'vitest';
import { evaluateHealth } from './health-report.js';

const HOUR = 3_600_000;
const base = {
  dockerReachable: true,
  link: { reachable: true, lastContactAt: 1_000, revoked: false },
  cloudflared: { state: 'running' as const, ready: true, restarts: 0 },
  startedAt: 0,
  now: 2_000,
  outageBudgetMs: 24 * HOUR,
};

describe('evaluateHealth', () => {
  it('is healthy when Docker and the master answer', () => {
    expect(evaluateHealth(base).healthy).toBe(true);
  });

  it('stays healthy through a master outage shorter than the budget, not longer', () => {
    const down = { ...base, link: { reachable: false, lastContactAt: 0, revoked: false } };
    expect(evaluateHealth({ ...down, now: 23 * HOUR }).master.withinOutageBudget).toBe(true);
    expect(evaluateHealth({ ...down, now: 23 * HOUR }).healthy).toBe(true);
    expect(evaluateHealth({ ...down, now: 25 * HOUR }).healthy).toBe(false);
  });

  it('counts the budget from the start when the master was never reached', () => {
    const never = { ...base, link: { reachable: false, lastContactAt: undefined, revoked: false } };
    expect(evaluateHealth({ ...never, now: HOUR }).healthy).toBe(true);
    expect(evaluateHealth({ ...never, now: 25 * HOUR }).healthy).toBe(false);
  });

  it('is unhealthy when the key is revoked or Docker is unreachable', () => {
    expect(evaluateHealth({ ...base, link: { ...base.link, revoked: true } }).healthy).toBe(false);
    expect(evaluateHealth({ ...base, dockerReachable: false }).healthy).toBe(false);
  });
});
