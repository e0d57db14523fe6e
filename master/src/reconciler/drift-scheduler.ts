import type { Logger } from '@tunnelfleet/common';
import type { SyncTarget } from '../routes/route-targets.js';

/** What the scheduler needs to know of one token's budget. */
interface DriftBudget {
  /** Calls the drift lane may make per window. */
  driftCeiling: number;
  windowMs: number;
}

/** Share of the period by which a check is scheduled early, so none is checked later than the period. */
const PERIOD_SLACK = 0.05;

export interface DriftSchedulerOptions {
  /** Each target is checked at most this often (DRIFT_CHECK_PERIOD_MINUTES). */
  periodMs: number;
  /** Every target that has something desired or owned (re-read each `refreshMs`). */
  listTargets(): Promise<SyncTarget[]>;
  /** Name of the token a target's checks are counted against. */
  tokenOf(target: SyncTarget): string;
  budgetOf(token: string): DriftBudget;
  /** Checks (and repairs) one target in the drift lane; resolves to the calls it made. */
  check(target: SyncTarget): Promise<number>;
  logger: Logger;
  /** How often the target list is re-read (default one minute, or the period if shorter). */
  refreshMs?: number;
  now?: () => number;
}

export interface DriftTargetStatus {
  target: SyncTarget;
  token: string;
  /** The period this target gets: the configured one, or longer when the budget share needs it. */
  periodSeconds: number;
  lastCheckedAt: string | null;
  nextCheckAt: string;
  /** Calls its last check made (1 until it has been checked). */
  lastCalls: number;
}

export interface DriftTokenStatus {
  token: string;
  targets: number;
  periodSeconds: number;
  /** Calls per window the drift lane may use on this token. */
  driftCeiling: number;
  windowSeconds: number;
}

export interface DriftStatus {
  configuredPeriodSeconds: number;
  /** Age of the oldest check (since a target was added, for one never checked). */
  oldestCheckAgeSeconds: number;
  tokens: DriftTokenStatus[];
  targets: DriftTargetStatus[];
}

export interface DriftScheduler {
  start(): void;
  status(): DriftStatus;
  close(): Promise<void>;
}

interface Entry {
  target: SyncTarget;
  token: string;
  addedAt: number;
  lastCheckedAt: number | undefined;
  nextCheckAt: number;
  lastCalls: number;
}

/**
 * Drift repair paced to a budget share: every tunnel, zone and the Access scope is checked once
 * per period, the checks spread evenly over it instead of in one burst, one at a time. The period
 * a token's targets get is the configured one, stretched when their checks (at the calls each
 * last cost) would not fit in the drift lane's share of that token's budget; the budget enforces
 * the share in any case, so a slow period shows in the status rather than in 429s.
 */
export function createDriftScheduler(options: DriftSchedulerOptions): DriftScheduler {
  const now = options.now ?? Date.now;
  const refreshMs = options.refreshMs ?? Math.min(60_000, options.periodMs);
  const entries = new Map<SyncTarget, Entry>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let nextRefreshAt = 0;
  let closed = false;

  /** The period a token's targets get: long enough for all their checks to fit its drift share. */
  function periodOf(token: string): number {
    const { driftCeiling, windowMs } = options.budgetOf(token);
    let calls = 0;
    for (const entry of entries.values()) if (entry.token === token) calls += entry.lastCalls;
    return Math.max(options.periodMs, Math.ceil((calls * windowMs) / driftCeiling));
  }

  async function refresh(): Promise<void> {
    const targets = await options.listTargets();
    const wanted = new Set(targets);
    for (const target of entries.keys()) if (!wanted.has(target)) entries.delete(target);
    const added = targets.filter((t) => !entries.has(t));
    const at = now();
    for (const target of added) {
      const token = options.tokenOf(target);
      entries.set(target, {
        target,
        token,
        addedAt: at,
        lastCheckedAt: undefined,
        nextCheckAt: at,
        lastCalls: 1,
      });
    }
    // New targets are spread over their token's period rather than all due at once.
    const byToken = new Map<string, Entry[]>();
    for (const target of added) {
      const entry = entries.get(target)!;
      const list = byToken.get(entry.token);
      if (list) list.push(entry);
      else byToken.set(entry.token, [entry]);
    }
    for (const [token, list] of byToken) {
      const period = periodOf(token);
      list.forEach((entry, i) => {
        entry.nextCheckAt = at + Math.floor((i * period) / list.length);
      });
    }
    nextRefreshAt = at + refreshMs;
  }

  function due(): Entry | undefined {
    let best: Entry | undefined;
    for (const entry of entries.values()) {
      if (!best || entry.nextCheckAt < best.nextCheckAt) best = entry;
    }
    return best;
  }

  async function step(): Promise<void> {
    if (now() >= nextRefreshAt) {
      try {
        await refresh();
      } catch (error) {
        options.logger.warn({ err: error }, 'drift checks: could not list the targets; retried later');
        nextRefreshAt = now() + refreshMs;
      }
    }
    const entry = due();
    if (!entry || entry.nextCheckAt > now()) return;
    const startedAt = now();
    try {
      entry.lastCalls = Math.max(1, await options.check(entry.target));
      entry.lastCheckedAt = startedAt;
      // A little early: checks run one at a time and wait for the drift share, so one due at the
      // period's end could start late; the period is a promise of staleness, not a rhythm.
      entry.nextCheckAt = startedAt + Math.floor(periodOf(entry.token) * (1 - PERIOD_SLACK));
    } catch (error) {
      options.logger.warn({ err: error, target: entry.target }, 'drift check failed; tried again soon');
      entry.nextCheckAt = now() + Math.min(refreshMs, periodOf(entry.token));
    }
  }

  function arm(): void {
    if (closed) return;
    const entry = due();
    const wake = Math.min(nextRefreshAt, entry?.nextCheckAt ?? Number.POSITIVE_INFINITY);
    timer = setTimeout(
      () => {
        running = step().finally(() => {
          running = undefined;
          arm();
        });
      },
      Math.max(0, wake - now()),
    );
  }

  return {
    start() {
      if (!timer && !running) arm();
    },
    status() {
      const at = now();
      let oldest = 0;
      const tokens = new Map<string, DriftTokenStatus>();
      const targets = [...entries.values()].map((entry) => {
        oldest = Math.max(oldest, at - (entry.lastCheckedAt ?? entry.addedAt));
        let token = tokens.get(entry.token);
        if (!token) {
          const budget = options.budgetOf(entry.token);
          token = {
            token: entry.token,
            targets: 0,
            periodSeconds: periodOf(entry.token) / 1000,
            driftCeiling: budget.driftCeiling,
            windowSeconds: budget.windowMs / 1000,
          };
          tokens.set(entry.token, token);
        }
        token.targets += 1;
        return {
          target: entry.target,
          token: entry.token,
          periodSeconds: token.periodSeconds,
          lastCheckedAt:
            entry.lastCheckedAt === undefined ? null : new Date(entry.lastCheckedAt).toISOString(),
          nextCheckAt: new Date(entry.nextCheckAt).toISOString(),
          lastCalls: entry.lastCalls,
        };
      });
      return {
        configuredPeriodSeconds: options.periodMs / 1000,
        oldestCheckAgeSeconds: oldest / 1000,
        tokens: [...tokens.values()],
        targets,
      };
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
