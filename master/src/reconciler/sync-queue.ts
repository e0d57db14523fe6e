import type { Logger } from '@tunnelfleet/common';
import { createRedisKeys, createSyncJobQueue, type RedisConnectionOptions } from '../redis/index.js';
import type { SyncTarget } from '../routes/route-targets.js';

const REQUEUE_DELAY_MS = 1_000;
/** A target whose job used up its attempts (a long outage, a budget paused for long) is queued again after this. */
const GAVE_UP_DELAY_MS = 60_000;

export interface SyncQueueOptions {
  connection: RedisConnectionOptions;
  /** Prefix of the queue's Redis keys (`REDIS_KEY_PREFIX`). */
  prefix?: string;
  logger: Logger;
  /** A target syncs once no change has come for it for this long… */
  debounceMs: number;
  /** …or this long after its first unsynced change, so a steady trickle cannot starve it. */
  maxWaitMs: number;
  /** Brings one target in line; throwing retries it with backoff. */
  process(target: SyncTarget): Promise<void>;
  concurrency?: number;
}

export interface SyncQueue {
  enqueue(targets: readonly SyncTarget[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Debounce in front of the master's one `cf-sync` job queue (`master/src/redis/sync-job-queue.ts`): a target's job is queued once the target has been quiet for `debounceMs` (or
 * `maxWaitMs` after its first change), so a lone container start syncs at once and a burst of
 * starts folds into one sync. The wait is kept in memory: a master that dies during it loses
 * nothing, because SQLite holds the change and the full reconcile at start syncs every target.
 */
export async function createSyncQueue(options: SyncQueueOptions): Promise<SyncQueue> {
  const jobs = await createSyncJobQueue({
    connection: options.connection,
    keys: createRedisKeys(options.prefix),
    logger: options.logger,
    process: options.process,
    // A change is never dropped: SQLite keeps it, and its target is queued again until it syncs.
    onGaveUp: (target) => schedule(target, GAVE_UP_DELAY_MS),
    concurrency: options.concurrency ?? 4,
  });
  const waiting = new Map<SyncTarget, { timer: NodeJS.Timeout; firstChangeAt: number }>();
  let closed = false;

  const add = (target: SyncTarget) =>
    jobs.add(target).catch((error: unknown) => {
      // Redis is down: keep the target waiting and try again; the change itself is safe in SQLite.
      options.logger.warn({ target, err: error }, 'cannot queue a cf-sync job; retrying');
      schedule(target, REQUEUE_DELAY_MS);
    });

  function schedule(target: SyncTarget, delayMs?: number) {
    if (closed) return;
    const now = Date.now();
    const entry = waiting.get(target);
    if (entry) clearTimeout(entry.timer);
    const firstChangeAt = entry?.firstChangeAt ?? now;
    const wait =
      delayMs ?? Math.max(0, Math.min(options.debounceMs, firstChangeAt + options.maxWaitMs - now));
    const timer = setTimeout(() => {
      waiting.delete(target);
      void add(target);
    }, wait);
    waiting.set(target, { timer, firstChangeAt });
  }

  return {
    async enqueue(targets) {
      for (const target of new Set(targets)) schedule(target);
    },
    async close() {
      closed = true;
      for (const entry of waiting.values()) clearTimeout(entry.timer);
      waiting.clear();
      await jobs.close();
    },
  };
}
