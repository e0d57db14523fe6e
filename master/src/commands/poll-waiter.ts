/**
 * The waiting side of one long-poll. A notification that arrives while the poll is busy reading
 * Redis is remembered, so the next `wait` returns at once instead of sleeping through it.
 */
export interface PollWaiter {
  readonly closed: boolean;
  /** Resolves when `close` is called. */
  readonly whenClosed: Promise<void>;
  /** Forgets earlier notifications: call right before looking at the queue. */
  arm(): void;
  /** The agent's queue may have changed. */
  notify(): void;
  /** Ends the poll: the current and every later `wait` return at once. */
  close(): void;
  /** Returns after `ms`, or on `notify` / `close`, whichever comes first. */
  wait(ms: number): Promise<void>;
}

export function createPollWaiter(): PollWaiter {
  let notified = false;
  let closed = false;
  let wakeUp: (() => void) | undefined;
  let resolveClosed!: () => void;
  const whenClosed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });

  return {
    get closed() {
      return closed;
    },
    whenClosed,
    arm() {
      notified = false;
    },
    notify() {
      notified = true;
      wakeUp?.();
    },
    close() {
      closed = true;
      resolveClosed();
      wakeUp?.();
    },
    async wait(ms) {
      if (notified || closed || ms <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        wakeUp = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      wakeUp = undefined;
    },
  };
}
