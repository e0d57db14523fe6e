import { deadlineSignal } from '@tunnelfleet/common';
import { APIConnectionError, APIError } from 'cloudflare';
import {
  BUDGET_LANES,
  type BudgetLane,
  type BudgetLanes,
  createBudgetLanes,
  type LaneTicket,
  ticketOf,
} from './budget-lanes.js';

type CallResult = 'ok' | 'rate_limited' | 'server_error' | 'client_error' | 'network_error';

export type CallCounters = Record<CallResult, number>;

export interface CallEvent {
  token: string;
  method: string;
  result: CallResult;
  status?: number;
}

export interface CallBudgetOptions {
  /** Requests Cloudflare allows per window and token (documented: 1200 per 300 s). */
  limit?: number;
  windowMs?: number;
  /** Share of the limit kept in reserve for the dashboard, clock skew and network delay. */
  safetyMargin?: number;
  /** Share of the ceiling the `drift` lane may use per window (DRIFT_BUDGET_SHARE, default 0.1). */
  driftShare?: number;
  /** Per-request timeout, started once the request leaves the queue. */
  requestTimeoutMs?: number;
  /** How many 429s in a row one request sits out before the 429 reaches the caller. */
  maxRateLimitWaits?: number;
  /** Pause used when a 429 carries no usable Retry-After. */
  defaultRetryAfterMs?: number;
  /**
   * Most requests that may wait for a slot at once (default 10,000: about 45 minutes of
   * Cloudflare's budget, room for a whole fleet enrolling at once). One more is refused with
   * `CallBudgetQueueFullError`.
   */
  maxQueued?: number;
  /** Called after every request, for metrics (e.g. a prom-client counter). */
  onCall?: (event: CallEvent) => void;
  /** Called when the queue becomes full (once, until it has room again), e.g. to log it. */
  onQueueFull?: (event: { token: string; queued: number }) => void;
  /**
   * Called when Cloudflare answers 429 and the token pauses (once per pause): the budget is used
   * up, by us or by another tool sharing the token.
   */
  onPaused?: (event: { token: string; retryAfterMs: number; queued: number }) => void;
}

/**
 * A request refused because too many already wait for this token's budget: without a bound, a
 * flood of callers (or a loop) would pile up promises for hours and hide the cause.
 */
export class CallBudgetQueueFullError extends Error {
  readonly code = 'cf_budget_queue_full';
  readonly status = 503;
  constructor(
    readonly tokenName: string,
    readonly queued: number,
  ) {
    super(`${queued} requests already wait for the Cloudflare call budget of token "${tokenName}"`);
    this.name = 'CallBudgetQueueFullError';
  }
}

export interface RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** What one token's budget is doing now (API `GET /api/v1/cloudflare/budget` and `/metrics`). */
export interface BudgetState {
  token: string;
  /** Effective per-window ceiling after the safety margin, and the drift lane's part of it. */
  ceiling: number;
  driftCeiling: number;
  windowSeconds: number;
  /** Requests counted in the current window, by lane. */
  inWindow: Record<BudgetLane, number>;
  /** Requests waiting for a slot, by lane: the backlog. */
  queued: Record<BudgetLane, number>;
  /** Seconds the oldest waiting change has waited (0 when none waits). */
  oldestChangeWaitSeconds: number;
  /** Seconds left of a pause Cloudflare asked for with a 429 (0 when not paused). */
  pausedSeconds: number;
}

export interface CallBudget {
  readonly tokenName: string;
  /** `fetch` for the SDK client: every HTTP request of this token waits for a slot here. */
  readonly fetch: typeof fetch;
  counters(): CallCounters;
  /** Requests sent in the current window (for tests and a metrics gauge). */
  inWindow(): number;
  /** Effective per-window ceiling after the safety margin. */
  readonly ceiling: number;
  /** The drift lane's ceiling per window: `driftShare` of `ceiling`, at least one. */
  readonly driftCeiling: number;
  readonly windowMs: number;
  /** Requests waiting for a slot now. */
  queued(): number;
  state(): BudgetState;
}

const DEFAULTS = {
  limit: 1200,
  windowMs: 300_000,
  safetyMargin: 0.1,
  driftShare: 0.1,
  requestTimeoutMs: 30_000,
  maxRateLimitWaits: 20,
  defaultRetryAfterMs: 60_000,
};

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const perLane = (): Record<BudgetLane, number> => ({ change: 0, enrol: 0, sweep: 0, drift: 0 });

interface Slot {
  lane: BudgetLane;
  /** When its reply came back (Infinity while in flight). */
  done: number;
}

interface Waiter {
  ticket: LaneTicket;
  since: number;
  grant: (slot: Slot) => void;
}

/**
 * One limiter per API token, shared by every caller of that token (it sits in the SDK's
 * `fetch`, so pagination follow-ups and retries are counted too).
 *
 * A sliding log keeps every window of `windowMs` under `ceiling` requests. Waiting requests are
 * served by lane (`budget-lanes.ts`: changes and enrolments half each, then the start-up sweep,
 * then drift checks) and in arrival order within a lane, so a change never queues behind a drift check and changes keep
 * their order. Drift checks also stay under `driftCeiling` per window, whatever is left.
 * A 429 pauses the whole token (not only the request that got it) until Retry-After has
 * passed, then resends: Cloudflare answers 429 before doing anything, so resending is safe
 * even for a POST. 5xx and connection errors are NOT retried here — a create that failed
 * with 5xx may have happened — see `withRetries`.
 */
export function createCallBudget(
  tokenName: string,
  options: CallBudgetOptions = {},
  lanes: BudgetLanes = createBudgetLanes(),
): CallBudget {
  const opts = { ...DEFAULTS, ...options };
  const ceiling = Math.max(1, Math.floor(opts.limit * (1 - opts.safetyMargin)));
  const driftCeiling = Math.max(1, Math.floor(ceiling * opts.driftShare));
  // A request counts against the window until `windowMs` after its reply, not after its send:
  // it reached Cloudflare somewhere in between, so counting from the reply keeps every window at
  // Cloudflare's end under the ceiling however long the network took.
  const slots: Slot[] = [];
  const waiting: Waiter[] = [];
  let pausedUntil = 0;
  let pauseReported = false;
  const maxQueued = opts.maxQueued ?? 10_000;
  let full = false;
  let timer: NodeJS.Timeout | undefined;
  const counters: CallCounters = {
    ok: 0,
    rate_limited: 0,
    server_error: 0,
    client_error: 0,
    network_error: 0,
  };

  const prune = (now: number) => {
    for (let i = slots.length - 1; i >= 0; i--) {
      if (slots[i]!.done <= now - opts.windowMs) slots.splice(i, 1);
    }
  };

  // The lane of the first rank (`change`, `enrol`) that was served last.
  let lastFirstRank: BudgetLane = 'enrol';
  /**
   * The next waiter by lane, then by arrival. `change` and `enrol` share the first rank: while
   * both wait they take turns (half the calls each), so neither a publishing backlog nor a fleet
   * enrolling at once holds the other up for windows on end.
   */
  const next = (): Waiter | undefined => {
    const change = waiting.find((w) => w.ticket.lane === 'change');
    const enrol = waiting.find((w) => w.ticket.lane === 'enrol');
    if (change && enrol) return lastFirstRank === 'change' ? enrol : change;
    for (const lane of BUDGET_LANES) {
      const waiter = waiting.find((w) => w.ticket.lane === lane);
      if (waiter) return waiter;
    }
    return undefined;
  };

  /** Hands out every slot that is free now; arms a timer for the next one that will be. */
  function pump() {
    if (timer) clearTimeout(timer);
    timer = undefined;
    for (;;) {
      const waiter = next();
      if (!waiter) return;
      const now = Date.now();
      prune(now);
      let wait = pausedUntil - now;
      if (slots.length >= ceiling) wait = Math.max(wait, earliestFree(slots, now));
      if (waiter.ticket.lane === 'drift') {
        const drift = slots.filter((s) => s.lane === 'drift');
        if (drift.length >= driftCeiling) wait = Math.max(wait, earliestFree(drift, now));
      }
      // Every counted slot still in flight: a reply (release) pumps again.
      if (!Number.isFinite(wait)) return;
      if (wait > 0) {
        timer = setTimeout(pump, wait + 1);
        return;
      }
      if (pausedUntil <= now) pauseReported = false;
      waiting.splice(waiting.indexOf(waiter), 1);
      const slot = { lane: waiter.ticket.lane, done: Number.POSITIVE_INFINITY };
      if (slot.lane === 'change' || slot.lane === 'enrol') lastFirstRank = slot.lane;
      slots.push(slot);
      if (waiter.ticket.calls !== undefined) waiter.ticket.calls += 1;
      waiter.grant(slot);
    }
  }

  function earliestFree(counted: Slot[], now: number): number {
    const oldest = Math.min(...counted.map((s) => s.done));
    return oldest + opts.windowMs - now;
  }

  lanes.onPromote(pump);

  function acquire(ticket: LaneTicket): Promise<Slot> {
    if (waiting.length >= maxQueued) {
      if (!full) opts.onQueueFull?.({ token: tokenName, queued: waiting.length });
      full = true;
      return Promise.reject(new CallBudgetQueueFullError(tokenName, waiting.length));
    }
    full = false;
    return new Promise<Slot>((grant) => {
      waiting.push({ ticket, since: Date.now(), grant });
      pump();
    });
  }

  function release(slot: Slot) {
    slot.done = Date.now();
    pump();
  }

  function record(method: string, result: CallResult, status?: number) {
    counters[result] += 1;
    opts.onCall?.({ token: tokenName, method, result, ...(status === undefined ? {} : { status }) });
  }

  const budgetedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const method = (init?.method ?? 'GET').toUpperCase();
    const resendable = init?.body === undefined || init.body === null || typeof init.body === 'string';
    for (let waits = 0; ; waits++) {
      const slot = await acquire(ticketOf(init));
      // Not cleared once the headers arrive: the deadline covers the body the SDK reads next.
      const deadline = deadlineSignal(opts.requestTimeoutMs, init?.signal ?? undefined);
      let response: Response;
      try {
        response = await fetch(input, { ...init, signal: deadline.signal });
      } catch (err) {
        release(slot);
        record(method, 'network_error');
        throw err;
      }
      const status = response.status;
      if (status === 429) {
        record(method, 'rate_limited', status);
        const retryAfter = retryAfterMs(response, opts.defaultRetryAfterMs);
        pausedUntil = Math.max(pausedUntil, Date.now() + retryAfter);
        if (!pauseReported) {
          pauseReported = true;
          opts.onPaused?.({ token: tokenName, retryAfterMs: retryAfter, queued: waiting.length });
        }
        release(slot);
        if (!resendable || waits >= opts.maxRateLimitWaits) return response;
        await response.body?.cancel();
        continue;
      }
      release(slot);
      record(method, status >= 500 ? 'server_error' : status >= 400 ? 'client_error' : 'ok', status);
      return response;
    }
  };

  const state = (): BudgetState => {
    const now = Date.now();
    prune(now);
    const inWindow = perLane();
    for (const slot of slots) inWindow[slot.lane] += 1;
    const queued = perLane();
    for (const waiter of waiting) queued[waiter.ticket.lane] += 1;
    const oldestChange = waiting.find((w) => w.ticket.lane === 'change');
    return {
      token: tokenName,
      ceiling,
      driftCeiling,
      windowSeconds: opts.windowMs / 1000,
      inWindow,
      queued,
      oldestChangeWaitSeconds: oldestChange ? (now - oldestChange.since) / 1000 : 0,
      pausedSeconds: Math.max(0, pausedUntil - now) / 1000,
    };
  };

  return {
    tokenName,
    fetch: budgetedFetch as typeof fetch,
    ceiling,
    driftCeiling,
    windowMs: opts.windowMs,
    queued: () => waiting.length,
    counters: () => ({ ...counters }),
    inWindow: () => {
      prune(Date.now());
      return slots.length;
    },
    state,
  };
}

function retryAfterMs(response: Response, fallbackMs: number): number {
  const header = response.headers.get('retry-after');
  if (header === null) return fallbackMs;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? fallbackMs : Math.max(0, date - Date.now());
}

/** 5xx, 429 (after the budget gave up waiting) and connection errors are worth another try. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof APIConnectionError) return true;
  return (
    err instanceof APIError && typeof err.status === 'number' && (err.status >= 500 || err.status === 429)
  );
}

/**
 * Retries `fn` on retryable errors with full-jitter exponential backoff. Only wrap work that
 * is safe to repeat: a GET, a PUT of a whole document, or a unit that re-reads state before
 * it writes (so a create whose reply was lost is found instead of made twice).
 */
export async function withRetries<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  const base = options.baseDelayMs ?? 250;
  const max = options.maxDelayMs ?? 15_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isRetryable(err)) throw err;
      await delay(Math.random() * Math.min(max, base * 2 ** (attempt - 1)));
    }
  }
}
