import type { Logger } from '@tunnelfleet/common';
import { Queue, Worker } from 'bullmq';
import { createRedisClient, type RedisConnectionOptions } from '../commands/redis-client.js';
import type { SyncTarget } from '../routes/route-targets.js';

const SYNC_QUEUE_NAME = 'cf-sync';
const REQUEUE_DELAY_MS = 1_000;

export interface SyncQueueOptions {
  connection: RedisConnectionOptions;
  logger: Logger;
  /** A target syncs once no change has come for it for this long… */
  debounceMs: number;
  /** …or this long after its first unsynced change, so a steady trickle cannot starve it. */
  maxWaitMs: number;
  /** Brings one target in line; throwing makes BullMQ retry it with backoff. */
  process(target: SyncTarget): Promise<void>;
  concurrency?: number;
}

export interface SyncQueue {
  enqueue(targets: readonly SyncTarget[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The master's one `cf-sync` queue and its one worker (two Redis connections in all, whatever the
 * number of tunnels, zones or agents).
 *
 * Debounce: a target's job is queued once the target has been quiet for `debounceMs` (or
 * `maxWaitMs` after its first change), so a lone container start syncs at once and a burst of
 * starts folds into one sync. The wait is kept in memory: a master that dies during it loses
 * nothing, because SQLite holds the change and the full reconcile at start syncs every target.
 * Jobs are deduplicated by target: while one runs, the next change queues exactly one follow-up
 * (`keepLastIfActive`), so a change made during a sync is never lost.
 */
export async function createSyncQueue(options: SyncQueueOptions): Promise<SyncQueue> {
  const redis = createRedisClient({
    connection: options.connection,
    name: 'tunnelfleet-cf-sync',
    logger: options.logger,
    failFast: false,
  });
  const queue = new Queue<{ target: SyncTarget }>(SYNC_QUEUE_NAME, { connection: redis.client });
  const worker = new Worker<{ target: SyncTarget }>(
    SYNC_QUEUE_NAME,
    async (job) => options.process(job.data.target),
    { connection: redis.client, concurrency: options.concurrency ?? 4 },
  );
  worker.on('failed', (job, error) => {
    options.logger.warn(
      { target: job?.data.target, attempt: job?.attemptsMade, err: error },
      'cf-sync job failed',
    );
  });
  worker.on('error', (error) => options.logger.error({ err: error }, 'cf-sync worker error'));
  await worker.waitUntilReady();

  const jobOptions = {
    deduplication: { keepLastIfActive: true },
    attempts: 8,
    backoff: { type: 'exponential', delay: 1_000 },
    removeOnComplete: true,
    removeOnFail: 100,
  } as const;
  const waiting = new Map<SyncTarget, { timer: NodeJS.Timeout; firstChangeAt: number }>();
  let closed = false;

  const add = (target: SyncTarget) =>
    queue
      .add('sync', { target }, { ...jobOptions, deduplication: { ...jobOptions.deduplication, id: target } })
      .catch((error: unknown) => {
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
      await worker.close();
      await queue.close();
      await redis.close();
    },
  };
}
