export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

interface Backoff {
  /** The delay before the next attempt; each call doubles the base up to the cap. */
  next(): number;
  reset(): void;
  readonly attempts: number;
}

/**
 * Capped exponential backoff with "equal jitter" (half fixed, half random) so that many agents
 * reconnecting to the same restarted daemon or master do not retry in lockstep.
 */
export function createBackoff({ initialDelayMs, maxDelayMs }: BackoffOptions): Backoff {
  let attempts = 0;
  return {
    next() {
      const base = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempts, 30));
      attempts += 1;
      return Math.round(base / 2 + Math.random() * (base / 2));
    },
    reset() {
      attempts = 0;
    },
    get attempts() {
      return attempts;
    },
  };
}
