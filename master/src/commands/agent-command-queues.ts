import { createScripts, Job, type JobState, Queue, type Scripts } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CommandJobData } from './command-job.js';
import type { CommandKeys } from './command-keys.js';

/** Acknowledged commands kept for a while, so a repeated acknowledgement is recognised as such. */
const KEEP_COMPLETED = 20;
const KEEP_FAILED = 100;
/** Each queue has an event stream; nobody reads it, so keep it short (BullMQ's default is 10,000). */
const EVENT_STREAM_MAX_LEN = 50;
/** Lock token "0" tells BullMQ's scripts to take no lock: the gateway keeps its own lease. */
const NO_LOCK = '0';

export type CommandJob = Job<CommandJobData, unknown, string>;

export interface AgentCommandQueues {
  add(agentId: string, jobId: string, data: CommandJobData): Promise<void>;
  /** The oldest job in the active state, if any (the gateway keeps at most one there). */
  activeJobId(agentId: string): Promise<string | undefined>;
  getJob(agentId: string, jobId: string): Promise<CommandJob | undefined>;
  getState(job: CommandJob): Promise<JobState | 'unknown'>;
  /** Moves the next waiting job to active, in queue order. */
  takeNext(agentId: string): Promise<CommandJob | undefined>;
  /** Drops a job id from the active list whose job data is gone. */
  forgetActive(agentId: string, jobId: string): Promise<void>;
  complete(job: CommandJob, result: unknown): Promise<void>;
  fail(job: CommandJob, reason: string): Promise<void>;
  /** Deletes the queue and every job in it. */
  obliterate(agentId: string): Promise<void>;
  /** Forgets the queue object (e.g. one whose initialisation failed during an outage). */
  evict(agentId: string): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  queue: Queue<CommandJobData, unknown, string>;
  scripts: Scripts;
}

/**
 * BullMQ behind one module: a `Queue` per agent, created on first use over the ONE shared client
 * (BullMQ reuses a passed ioredis instance instead of opening a connection), and no `Worker`,
 * because a Worker opens its own blocking connection as soon as it is constructed, even with
 * `autorun: false`. Jobs move to active through BullMQ's own `moveToActive` script, so order and
 * state transitions stay BullMQ's; no lock is taken (token "0"), since the lease is the gateway's.
 */
export function createAgentCommandQueues(client: Redis, keys: CommandKeys): AgentCommandQueues {
  const entries = new Map<string, Entry>();

  const entry = (agentId: string): Entry => {
    let found = entries.get(agentId);
    if (found === undefined) {
      const queue = new Queue<CommandJobData, unknown, string>(keys.queueName(agentId), {
        connection: client,
        // Never wait for a reconnection inside BullMQ: during an outage an operation must fail fast
        // (the gateway reports it), not hang and hold the agent's other operations behind it.
        skipWaitingForReady: true,
        prefix: keys.prefix,
        streams: { events: { maxLen: EVENT_STREAM_MAX_LEN } },
        defaultJobOptions: {
          attempts: 1,
          removeOnComplete: { count: KEEP_COMPLETED },
          removeOnFail: { count: KEEP_FAILED },
        },
      });
      found = { queue, scripts: createScripts(queue) };
      entries.set(agentId, found);
    }
    return found;
  };

  const evict = async (agentId: string) => {
    const found = entries.get(agentId);
    entries.delete(agentId);
    // Closing a queue on a shared connection leaves the connection open.
    await found?.queue.close().catch(() => undefined);
  };

  return {
    async add(agentId, jobId, data) {
      await entry(agentId).queue.add(data.type, data, { jobId });
    },
    async activeJobId(agentId) {
      const [oldest] = await client.lrange(entry(agentId).queue.toKey('active'), -1, -1);
      return oldest;
    },
    async getJob(agentId, jobId) {
      return Job.fromId<CommandJobData, unknown, string>(entry(agentId).queue, jobId);
    },
    getState: (job) => job.getState(),
    async takeNext(agentId) {
      const { queue, scripts } = entry(agentId);
      const [data, jobId] = (await scripts.moveToActive(await queue.client, NO_LOCK)) as [
        Parameters<typeof Job.fromJSON>[1] | null | undefined,
        string | undefined,
      ];
      return data && jobId ? Job.fromJSON<CommandJobData, unknown, string>(queue, data, jobId) : undefined;
    },
    async forgetActive(agentId, jobId) {
      await client.lrem(entry(agentId).queue.toKey('active'), 0, jobId);
    },
    async complete(job, result) {
      await job.moveToCompleted(result, NO_LOCK, false);
    },
    async fail(job, reason) {
      await job.moveToFailed(new Error(reason), NO_LOCK, false);
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
