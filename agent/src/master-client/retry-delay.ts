import { createBackoff } from '../docker/backoff.js';
import { MasterAuthRejectedError, MasterBusyError, MasterRateLimitedError } from './errors.js';

export interface RetryDelayOptions {
  initialDelayMs?: number;
  /** Cap of the exponential backoff while the master is unreachable or failing. */
  maxDelayMs?: number;
  /** Fixed, slow pace while the key is rejected: nothing changes until an operator acts. */
  rejectedDelayMs?: number;
}

interface RetryDelay {
  /** How long to wait after `error` before trying again. */
  next(error: unknown): number;
  /** After a success: the next failure starts from the initial delay again. */
  reset(): void;
}

const DEFAULT_RETRY_DELAY = { initialDelayMs: 1_000, maxDelayMs: 60_000, rejectedDelayMs: 60_000 };

/**
 * Retry pacing of the loops that talk to the master: jittered exponential backoff (so a fleet
 * does not hammer a master that just came back in lockstep), a slow fixed pace for a revoked key,
 * and never sooner than the Retry-After of a 429 or of a busy master's 503.
 */
export function createRetryDelay(options: RetryDelayOptions = {}): RetryDelay {
  const backoff = createBackoff({
    initialDelayMs: options.initialDelayMs ?? DEFAULT_RETRY_DELAY.initialDelayMs,
    maxDelayMs: options.maxDelayMs ?? DEFAULT_RETRY_DELAY.maxDelayMs,
  });
  const rejectedDelayMs = options.rejectedDelayMs ?? DEFAULT_RETRY_DELAY.rejectedDelayMs;
  return {
    next: (error) => {
      if (error instanceof MasterAuthRejectedError) return rejectedDelayMs;
      // Never before the master's Retry-After; the backoff grows if it keeps refusing.
      if (error instanceof MasterRateLimitedError || error instanceof MasterBusyError)
        return Math.max(error.retryAfterMs, backoff.next());
      return backoff.next();
    },
    reset: () => backoff.reset(),
  };
}
