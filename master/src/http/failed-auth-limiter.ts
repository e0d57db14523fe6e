import { RateLimitedError } from '@tunnelfleet/common';

/** Who a failed authentication is counted against: the client's address, and the key it named. */
export interface FailedAuthSubjects {
  address: string;
  /** The id part of a presented agent key (`tfk_<id>_…`), when the credentials had one. */
  keyId?: string;
}

export interface FailedAuthLimiter {
  /**
   * Counts one failed authentication against the address and the presented key id. Returns the
   * 429 to answer instead of 401 once either has failed more than `maxFailures` times in its
   * window. Valid credentials are never counted nor refused: only failures are limited.
   */
  recordFailure(subjects: FailedAuthSubjects): RateLimitedError | undefined;
}

/**
 * Limit on failed authentications (fixed one-minute windows), per address and per presented key
 * id, so a key cannot be guessed at speed from one address nor from many. Credentials are checked
 * first, and valid ones always pass: whoever shares an address with a guesser (every client behind
 * a proxy that is not trusted) is never locked out. Checking first costs one SHA-256, and the
 * secrets carry 256 bits of entropy, so answering guesses does not make them feasible.
 * In memory: it guards this process. The table is pruned of expired windows when it grows, so
 * spoofed addresses and made-up key ids cannot exhaust memory.
 */
export function createFailedAuthLimiter(
  options: { maxFailures?: number; windowMs?: number; now?: () => number } = {},
): FailedAuthLimiter {
  const maxFailures = options.maxFailures ?? 20;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  const windows = new Map<string, { startedAt: number; failures: number }>();

  /** The window of `subject` after counting one more failure in it. */
  function count(subject: string) {
    const window = windows.get(subject);
    if (window && now() - window.startedAt < windowMs) {
      window.failures++;
      return window;
    }
    if (!window && windows.size >= 10_000) {
      for (const [key, value] of windows) if (now() - value.startedAt >= windowMs) windows.delete(key);
    }
    const started = { startedAt: now(), failures: 1 };
    windows.set(subject, started);
    return started;
  }

  return {
    recordFailure({ address, keyId }) {
      const counted = [
        { what: 'this address', window: count(`address:${address}`) },
        ...(keyId === undefined ? [] : [{ what: 'this key', window: count(`key:${keyId}`) }]),
      ];
      const over = counted.find(({ window }) => window.failures > maxFailures);
      if (!over) return undefined;
      const retryAfterSeconds = (over.window.startedAt + windowMs - now()) / 1000;
      return new RateLimitedError(retryAfterSeconds, `too many failed authentications for ${over.what}`);
    },
  };
}
