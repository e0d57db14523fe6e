import { createRedisBackend, type Job, type JobState, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CommandJobData } from '../commands/command-job.js';
import type { RedisKeys } from './redis-keys.js';

/** Acknowledged commands kept for a while, so a repeated acknowledgement is recognised as such. */
const KEEP_COMPLETED = 20;
const KEEP_FAILED = 100;
/** Each queue has an event stream; nobody reads it, so keep it short (BullMQ's default is 10,000). */
const EVENT_STREAM_MAX_LEN = 50;

export type CommandJob = Job<CommandJobData, unknown, string>;

export interface AgentCommandQueues {
  add(agentId: string, jobId: string, data: CommandJobData): Promise<void>;
  /** The job in the active state, if any (the gateway keeps at most one there). */
  activeJob(agentId: string): Promise<CommandJob | undefined>;
  getJob(agentId: string, jobId: string): Promise<CommandJob | undefined>;
  getState(job: CommandJob): Promise<JobState | 'unknown'>;
  /** Moves the next waiting job to active, in queue order, and locks it. */
  takeNext(agentId: string): Promise<CommandJob | undefined>;
  /**
   * Renews the lock of an active job. A lock that ran out is taken again: the job goes back to
   * the head of the queue and is taken at once, so it stays first. Resolves with the job now
   * held, or `undefined` if it is gone.
   */
  hold(agentId: string, job: CommandJob): Promise<CommandJob | undefined>;
  complete(agentId: string, job: CommandJob, result: unknown): Promise<void>;
  fail(agentId: string, job: CommandJob, reason: string): Promise<void>;
  /** Deletes the queue and every job in it. */
  obliterate(agentId: string): Promise<void>;
  /** Forgets the queue objects (e.g. ones whose initialisation failed during an outage). */
  evict(agentId: string): Promise<void>;
  close(): Promise<void>;
}

export interface AgentCommandQueuesOptions {
  client: Redis;
  keys: RedisKeys;
  /** How long a taken job stays locked without renewal: the gateway's lease. */
  lockMs: number;
}

interface Entry {
  queue: Queue<CommandJobData, unknown, string>;
  worker: Worker<CommandJobData, unknown, string>;
}

/**
 * BullMQ behind one module, through its public API only: per agent a `Queue` to add jobs and a
 * `Worker` without a processor, whose `getNextJob(token, { block: false })` moves the next job to
 * active with a lock (BullMQ's manual processing). Both run over the ONE shared client: the Worker
 * is built with BullMQ's own Redis backend factory asked for no blocking connection, which a
 * non-blocking `getNextJob` never uses (the default factory would duplicate the client twice per
 * Worker, so two connections per agent). Without `run()`, the Worker renews no lock and runs no
 * stalled-job check: the gateway's lease decides redelivery, and the lock only proves that the
 * master still owns the job when it completes or fails it.
 *
 * The token is the same for every job and survives a restart of the master, which can then still
 * complete a job it took before; this assumes one master per Redis and prefix, as the deployment has.
 */
export function createAgentCommandQueues({
  client,
  keys,
  lockMs,
}: AgentCommandQueuesOptions): AgentCommandQueues {
  const entries = new Map<string, Entry>();
  const token = `${keys.prefix}-command-gateway`;

  const entry = (agentId: string): Entry => {
    let found = entries.get(agentId);
    if (found === undefined) {
      const name = keys.commandQueue(agentId);
      const common = {
        connection: client,
        // Never wait for a reconnection inside BullMQ: during an outage an operation must fail fast
        // (the gateway reports it), not hang and hold the agent's other operations behind it.
        skipWaitingForReady: true,
        prefix: keys.prefix,
      };
      const queue = new Queue<CommandJobData, unknown, string>(name, {
        ...common,
        streams: { events: { maxLen: EVENT_STREAM_MAX_LEN } },
        defaultJobOptions: {
          attempts: 1,
          removeOnComplete: { count: KEEP_COMPLETED },
          removeOnFail: { count: KEEP_FAILED },
        },
      });
      const worker = new Worker<CommandJobData, unknown, string>(
        name,
        null,
        { ...common, autorun: false, lockDuration: lockMs, skipStalledCheck: true, skipLockRenewal: true },
        (queueName, options) => createRedisBackend(queueName, options),
      );
      // Errors surface where an operation fails (as CommandQueueUnavailableError in the gateway).
      worker.on('error', () => undefined);
      queue.on('error', () => undefined);
      found = { queue, worker };
      entries.set(agentId, found);
    }
    return found;
  };

  const evict = async (agentId: string) => {
    const found = entries.get(agentId);
    entries.delete(agentId);
    // Closing them on a shared connection leaves the connection open.
    await found?.worker.close().catch(() => undefined);
    await found?.queue.close().catch(() => undefined);
  };

  const takeNext = async (agentId: string) =>
    ((await entry(agentId).worker.getNextJob(token, { block: false })) as CommandJob | undefined) ??
    undefined;

  const hold = async (agentId: string, job: CommandJob) => {
    if ((await job.extendLock(token, lockMs)) === 1) return job;
    // Nobody holds the job any more (no token needed): back to the head of the queue, taken again.
    await job.moveToWait();
    return takeNext(agentId);
  };

  /** The job itself, locked by this gateway, to finish it. */
  const holdSame = async (agentId: string, job: CommandJob) => {
    const held = await hold(agentId, job);
    if (held === undefined || held.id !== job.id)
      throw new Error(`command job ${job.id} is no longer active`);
    return held;
  };

  return {
    async add(agentId, jobId, data) {
      await entry(agentId).queue.add(data.type, data, { jobId });
    },
    async activeJob(agentId) {
      // Newest first; jobs whose data is gone are left out, so a stray id cannot hide the real one.
      return (await entry(agentId).queue.getActive()).at(-1);
    },
    async getJob(agentId, jobId) {
      return entry(agentId).queue.getJob(jobId);
    },
    getState: (job) => job.getState(),
    takeNext,
    hold,
    async complete(agentId, job, result) {
      await (await holdSame(agentId, job)).moveToCompleted(result, token, false);
    },
    async fail(agentId, job, reason) {
      await (await holdSame(agentId, job)).moveToFailed(new Error(reason), token, false);
    },
    async obliterate(agentId) {
      await entry(agentId).queue.obliterate({ force: true });
      await evict(agentId);
    },
    evict,
    async close() {
      await Promise.all([...entries.keys()].map(evict));
    },
  };
}
