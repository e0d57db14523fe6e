interface KeyedMutex {
  /** Runs `task` after every task queued earlier under the same key has settled. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Settles (never rejects) once every task queued so far under `key` has settled. */
  idle(key: string): Promise<void>;
}

/**
 * One-at-a-time execution per key, in call order; idle keys hold no memory. A failed task does
 * not stop the ones queued behind it. A promise chain, no I/O: master and agent share it.
 */
export function createKeyedMutex(): KeyedMutex {
  const tails = new Map<string, Promise<void>>();
  return {
    run(key, task) {
      const result = (tails.get(key) ?? Promise.resolve()).then(task);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    idle: (key) => tails.get(key) ?? Promise.resolve(),
  };
}
