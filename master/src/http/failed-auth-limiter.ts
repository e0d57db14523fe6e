import { RateLimitedError } from '@tunnelfleet/common';

export interface FailedAuthLimiter {
  /** Throws `RateLimitedError` while the address is blocked; call before checking credentials. */
  assertAllowed(address: string): void;
  /** Counts one failed authentication of the address. */
  recordFailure(address: string): void;
}

/**
 * Per-address limit on failed authentications (fixed one-minute windows): after `maxFailures` the
 * address gets 429 with `Retry-After` until its window ends, without its credentials being
 * checked, so keys and tokens cannot be guessed at speed. In memory: it guards this process.
 * The table is pruned of expired windows when it grows, so spoofed addresses cannot exhaust memory.
 */
export function createFailedAuthLimiter(
  options: { maxFailures?: number; windowMs?: number; now?: () => number } = {},
): FailedAuthLimiter {
  const maxFailures = options.maxFailures ?? 20;
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  const windows = new Map<string, { startedAt: number; failures: number }>();

  function current(address: string) {
    const window = windows.get(address);
    if (window && now() - window.startedAt < windowMs) return window;
    if (window) windows.delete(address);
    return undefined;
  }

  return {
    assertAllowed(address) {
      const window = current(address);
      if (window && window.failures >= maxFailures) {
        const retryAfterSeconds = (window.startedAt + windowMs - now()) / 1000;
        throw new RateLimitedError(retryAfterSeconds, 'too many failed authentications from this address');
      }
    },
    recordFailure(address) {
      const window = current(address);
      if (window) {
        window.failures++;
        return;
      }
      if (windows.size >= 10_000) {
        for (const [key, value] of windows) if (now() - value.startedAt >= windowMs) windows.delete(key);
      }
      windows.set(address, { startedAt: now(), failures: 1 });
    },
  };
}
