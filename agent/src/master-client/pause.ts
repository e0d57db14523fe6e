/**
 * Waits `ms`, or less when `signal` aborts or `wake` is called: loops sleep through it so that a
 * shutdown or a reason to act now (the master is back) never waits out a long backoff.
 */
export function pause(ms: number, signal?: AbortSignal): { done: Promise<void>; wake(): void } {
  let wake = () => {};
  const done = new Promise<void>((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', finish);
      resolve();
    };
    const timer = setTimeout(finish, ms);
    signal?.addEventListener('abort', finish, { once: true });
    if (signal?.aborted) finish();
    wake = finish;
  });
  return { done, wake: () => wake() };
}
