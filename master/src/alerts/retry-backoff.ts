export interface RetryPolicy {
  /** Attempts in all, the first included; after the last failure the delivery is `failed`. */
  maxAttempts: number;
  /** Delay before the second attempt; it doubles with each further one. */
  baseMs: number;
  /** Cap of a single delay. */
  maxMs: number;
}

/**
 * Delay before the next attempt after `attempts` failed ones, or undefined when none is left.
 * Exponential with "equal jitter": half the step is fixed, half random, so receivers that came back
 * from the same outage are not hit by every master's retries at the same instant.
 */
export function retryDelayMs(
  attempts: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number | undefined {
  if (attempts >= policy.maxAttempts) return undefined;
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempts - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}
