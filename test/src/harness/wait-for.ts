import { setTimeout as delay } from 'node:timers/promises';
import { WaitTimeoutError } from './harness-error.js';

interface WaitForOptions {
  /** What is awaited, for the timeout message, e.g. "container web-1 to be running". */
  description: string;
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `condition` until it returns a truthy value (which is returned) or the deadline passes.
 * A condition that throws counts as "not yet"; the last value or error is named in the timeout
 * error so a failing test says what it saw.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { description, timeoutMs = 10_000, intervalMs = 50 }: WaitForOptions,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(
        `Timed out after ${timeoutMs} ms waiting for ${description}; last ${describe(last)}`,
      );
    }
    await delay(intervalMs);
  }
}

function describe(last: unknown): string {
  if (last instanceof Error) return `error: ${last.message}`;
  try {
    return `value: ${JSON.stringify(last) ?? String(last)}`;
  } catch {
    return `value: ${String(last)}`;
  }
}
