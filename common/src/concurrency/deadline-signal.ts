/** An abort signal with a deadline, and the means to let it go. */
export interface DeadlineSignal {
  readonly signal: AbortSignal;
  /** The request is over: stop the timer and stop following the parent. */
  clear(): void;
}

/**
 * A signal that aborts after `timeoutMs` (reason: a `TimeoutError` DOMException, as
 * `AbortSignal.timeout` gives) or as soon as `parent` aborts.
 *
 * Why not `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: Node holds a timeout signal only
 * weakly, and the fetch of Node 20 follows a request's signal weakly too, so under GC pressure the
 * signal can be collected and the request then waits forever (nodejs/node#55428; seen here as a
 * webhook to a receiver that never answers staying in flight). Here the timer holds the controller
 * strongly until it fires or is cleared. The timer is unref'd: it never keeps a process alive.
 */
export function deadlineSignal(timeoutMs: number, parent?: AbortSignal): DeadlineSignal {
  const controller = new AbortController();
  const onParentAbort = () => {
    clear();
    controller.abort(parent?.reason);
  };
  const timer = setTimeout(() => {
    parent?.removeEventListener('abort', onParentAbort);
    controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
  }, timeoutMs);
  timer.unref();
  function clear(): void {
    clearTimeout(timer);
    parent?.removeEventListener('abort', onParentAbort);
  }
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return { signal: controller.signal, clear };
}
