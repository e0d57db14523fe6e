import type { Logger } from '@tunnelfleet/common';
import { Queue, Worker } from 'bullmq';
import { createRedisClient, type RedisConnectionOptions } from '../commands/redis-client.js';
import type { SyncTarget } from '../routes/route-targets.js';

export const SYNC_QUEUE_NAME = 'cf-sync';

export interface SyncQueueOptions {
  connection: RedisConnectionOptions;
  logger: Logger;
  /** How long a job waits for more changes to the same target before it runs. */
  debounceMs: number;
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
 * number of tunnels, zones or agents). A job per target, deduplicated by the target: while one
 * waits out its debounce delay, further changes fold into it; while one runs, the next change
 * queues exactly one follow-up (`keepLastIfActive`), so a change made during a sync is never lost
 * and a burst of reports costs one sync.
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

  return {
    async enqueue(targets) {
      await Promise.all(
        [...new Set(targets)].map((target) =>
          queue.add(
            'sync',
            { target },
            {
              delay: options.debounceMs,
              deduplication: { id: target, keepLastIfActive: true },
              attempts: 8,
              backoff: { type: 'exponential', delay: 1_000 },
              removeOnComplete: true,
              removeOnFail: 100,
            },
          ),
        ),
      );
    },
    async close() {
      await worker.close();
      await queue.close();
      await redis.close();
    },
  };
}
