import type { Logger } from '@tunnelfleet/common';
import { Queue, Worker } from 'bullmq';
import type { SyncTarget } from '../routes/route-targets.js';
import { createRedisClient, type RedisConnectionOptions } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';

export interface SyncJobQueueOptions {
  connection: RedisConnectionOptions;
  keys: RedisKeys;
  logger: Logger;
  /** Brings one target in line; throwing makes BullMQ retry it with backoff. */
  process(target: SyncTarget): Promise<void>;
  /** Told when a target's job failed its last attempt (the caller queues it again later). */
  onGaveUp?(target: SyncTarget): void;
  concurrency: number;
}

export interface SyncJobQueue {
  /** Queues a sync of the target, unless one is already waiting (one follow-up while it runs). */
  add(target: SyncTarget): Promise<void>;
  close(): Promise<void>;
}

const JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: true,
  removeOnFail: 100,
} as const;

/**
 * The master's one `cf-sync` BullMQ queue and its one worker: two Redis connections in all (the
 * shared client and the worker's blocking one), whatever the number of tunnels, zones or agents.
 * Jobs are deduplicated by target: while one runs, the next change queues exactly one follow-up
 * (`keepLastIfActive`), so a change made during a sync is never lost.
 */
export async function createSyncJobQueue(options: SyncJobQueueOptions): Promise<SyncJobQueue> {
  const { keys, logger } = options;
  const redis = createRedisClient({
    connection: options.connection,
    name: `${keys.prefix}-cf-sync`,
    logger,
    failFast: false,
  });
  const common = { connection: redis.client, prefix: keys.prefix };
  const queue = new Queue<{ target: SyncTarget }>(keys.syncQueue, common);
  const worker = new Worker<{ target: SyncTarget }>(
    keys.syncQueue,
    async (job) => options.process(job.data.target),
    { ...common, concurrency: options.concurrency },
  );
  worker.on('failed', (job, error) => {
    logger.warn({ target: job?.data.target, attempt: job?.attemptsMade, err: error }, 'cf-sync job failed');
    if (job && job.attemptsMade >= JOB_OPTIONS.attempts) options.onGaveUp?.(job.data.target);
  });
  worker.on('error', (error) => logger.error({ err: error }, 'cf-sync worker error'));
  await worker.waitUntilReady();

  return {
    async add(target) {
      await queue.add(
        'sync',
        { target },
        { ...JOB_OPTIONS, deduplication: { keepLastIfActive: true, id: target } },
      );
    },
    async close() {
      await worker.close();
      await queue.close();
      await redis.close();
    },
  };
}
