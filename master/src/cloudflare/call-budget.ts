import { createKeyedMutex } from '@tunnelfleet/common';
import { APIConnectionError, APIError } from 'cloudflare';

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
}

/**
 * A request refused because too many already wait for this token's budget: without a bound, a
 * flood of callers (or a loop) would pile up promises for hours and hide the cause.
 */
export class CallBudgetQueueFullError extends Error {
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

export interface CallBudget {
  readonly tokenName: string;
  /** `fetch` for the SDK client: every HTTP request of this token waits for a slot here. */
  readonly fetch: typeof fetch;
  counters(): CallCounters;
  /** Requests sent in the current window (for tests and a metrics gauge). */
  inWindow(): number;
  /** Effective per-window ceiling after the safety margin. */
  readonly ceiling: number;
  /** Requests waiting for a slot now. */
  queued(): number;
}

const DEFAULTS = {
  limit: 1200,
  windowMs: 300_000,
  safetyMargin: 0.1,
  requestTimeoutMs: 30_000,
  maxRateLimitWaits: 20,
  defaultRetryAfterMs: 60_000,
};

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One limiter per API token, shared by every caller of that token (it sits in the SDK's
 * `fetch`, so pagination follow-ups and retries are counted too).
 *
 * A sliding log keeps every window of `windowMs` under `ceiling` requests.
 * A 429 pauses the whole token (not only the request that got it) until Retry-After has
 * passed, then resends: Cloudflare answers 429 before doing anything, so resending is safe
 * even for a POST. 5xx and connection errors are NOT retried here — a create that failed
 * with 5xx may have happened — see `withRetries`.
 */
export function createCallBudget(tokenName: string, options: CallBudgetOptions = {}): CallBudget {
  const opts = { ...DEFAULTS, ...options };
  const ceiling = Math.max(1, Math.floor(opts.limit * (1 - opts.safetyMargin)));
  // One entry per request: when its reply came back (Infinity while in flight). A request
  // counts against the window until `windowMs` after its reply, not after its send: it reached
  // Cloudflare somewhere in between, so counting from the reply keeps every window at
  // Cloudflare's end under the ceiling however long the network took.
  const slots: { done: number }[] = [];
  let pausedUntil = 0;
  const turns = createKeyedMutex();
  const maxQueued = opts.maxQueued ?? 10_000;
  let queued = 0;
  let full = false;
  let wake: (() => void) | undefined;
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

  async function waitForSlot(): Promise<{ done: number }> {
    for (;;) {
      const now = Date.now();
      prune(now);
      const oldest = Math.min(...slots.map((s) => s.done));
      const untilWindow = slots.length >= ceiling ? oldest + opts.windowMs - now + 1 : 0;
      const wait = Math.max(pausedUntil - now, untilWindow);
      if (wait <= 0) {
        const slot = { done: Number.POSITIVE_INFINITY };
        slots.push(slot);
        return slot;
      }
      // Every slot still in flight: wait for a reply rather than a time.
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      await (Number.isFinite(wait) ? Promise.race([delay(wait), woken]) : woken);
    }
  }

  // FIFO: each request queues behind the previous one, so a burst cannot starve an older call.
  function acquire(): Promise<{ done: number }> {
    if (queued >= maxQueued) {
      if (!full) opts.onQueueFull?.({ token: tokenName, queued });
      full = true;
      return Promise.reject(new CallBudgetQueueFullError(tokenName, queued));
    }
    full = false;
    queued++;
    return turns.run('slot', waitForSlot).finally(() => {
      queued--;
    });
  }

  function release(slot: { done: number }) {
    slot.done = Date.now();
    wake?.();
  }

  function record(method: string, result: CallResult, status?: number) {
    counters[result] += 1;
    opts.onCall?.({ token: tokenName, method, result, ...(status === undefined ? {} : { status }) });
  }

  const budgetedFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const method = (init?.method ?? 'GET').toUpperCase();
    const resendable = init?.body === undefined || init.body === null || typeof init.body === 'string';
    for (let waits = 0; ; waits++) {
      const slot = await acquire();
      const signals = [AbortSignal.timeout(opts.requestTimeoutMs)];
      if (init?.signal) signals.push(init.signal);
      let response: Response;
      try {
        response = await fetch(input, { ...init, signal: AbortSignal.any(signals) });
      } catch (err) {
        release(slot);
        record(method, 'network_error');
        throw err;
      }
      release(slot);
      const status = response.status;
      if (status === 429) {
        record(method, 'rate_limited', status);
        pausedUntil = Math.max(pausedUntil, Date.now() + retryAfterMs(response, opts.defaultRetryAfterMs));
        if (!resendable || waits >= opts.maxRateLimitWaits) return response;
        await response.body?.cancel();
        continue;
      }
      record(method, status >= 500 ? 'server_error' : status >= 400 ? 'client_error' : 'ok', status);
      return response;
    }
  };

  return {
    tokenName,
    fetch: budgetedFetch as typeof fetch,
    ceiling,
    queued: () => queued,
    counters: () => ({ ...counters }),
    inWindow: () => {
      prune(Date.now());
      return slots.length;
    },
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
