import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  type Command,
  type CommandAck,
  commandSchema,
  createKeyedMutex,
  NotFoundError,
  parseOrThrow,
  TunnelfleetError,
  ValidationError,
} from '@tunnelfleet/common';
import type { Logger } from 'pino';
import {
  assertAgentId,
  type CommandJob,
  type CommandLease,
  createAgentCommandQueues,
  createCommandLeases,
  createCommandVersions,
  createRedisClient,
  createRedisKeys,
  openWakeChannel,
  type RedisConnectionOptions,
} from '../redis/index.js';
import type { CommandRequest } from './command-job.js';
import { CommandQueueUnavailableError } from './command-queue-unavailable-error.js';
import { createPollWaiter, type PollWaiter } from './poll-waiter.js';

export interface CommandGatewayOptions {
  /** Redis of the master (a `redis://` URL or ioredis options). The gateway opens two connections. */
  connection: RedisConnectionOptions;
  logger: Logger;
  /** How long a delivered command may stay unacknowledged before it is delivered again. */
  leaseMs: number;
  /** Prefix of every Redis key and channel the gateway uses (BullMQ queues included); `REDIS_KEY_PREFIX`. */
  prefix?: string;
  /** Long-polls one agent may hold open; opening one more ends its oldest. Default 2. */
  maxPollsPerAgent?: number;
}

export interface NextCommandOptions {
  /** Aborting ends the poll at once with `null` (the HTTP request went away). */
  signal?: AbortSignal;
  /** Longest wait for a command; 0 looks once and returns. */
  timeoutMs: number;
}

/** `already_acknowledged`: a repeated acknowledgement of a finished command; nothing changed. */
export type AckOutcome = 'acknowledged' | 'already_acknowledged';

export interface CommandStats {
  /** Commands enqueued by this process. */
  queued: number;
  /** First deliveries. */
  delivered: number;
  /** Deliveries after a lease ran out. */
  redelivered: number;
  /** Acknowledged with `ok` or `ignored_stale`. */
  acknowledged: number;
  /** Acknowledged with `error`. */
  failed: number;
  /** Long-polls waiting right now. */
  openPolls: number;
}

export interface EnqueueOptions {
  /**
   * The command's version will be above this one: pass the last version the store recorded for the
   * agent, so that versions keep increasing even if Redis lost its data (the agent would otherwise
   * ignore every new command as stale).
   */
  afterVersion?: number;
}

export interface CommandGateway {
  /** Queues a command for the agent with the next version of that agent. Resolves with the envelope. */
  enqueue(agentId: string, command: CommandRequest, options?: EnqueueOptions): Promise<Command>;
  /**
   * The agent's long-poll: the next command, or `null` when `timeoutMs` passed, `signal` aborted or
   * `closeAgent` ended it. Throws `CommandQueueUnavailableError` if Redis is down when it starts; an
   * outage during the wait is waited out. One command is in flight per agent: until it is acknowledged, every poll
   * of that agent waits, and the first poll after its lease ran out receives it again (with
   * `lease.attempt` increased); the agent's version check makes the repeat harmless. An agent holds
   * at most `maxPollsPerAgent` polls: a new one ends its oldest open one, which returns `null`.
   */
  next(agentId: string, options: NextCommandOptions): Promise<Command | null>;
  /**
   * Completes (`ok`, `ignored_stale`) or fails (`error`) the agent's command in flight. Only the
   * agent's own commands can be found: any other id is a `NotFoundError` and changes nothing.
   */
  acknowledge(agentId: string, commandId: string, ack: CommandAck): Promise<AckOutcome>;
  /**
   * Ends the agent's open long-polls at once (revocation): they return `null`. Its queue is kept.
   * The gateway is the one registry of open long-polls.
   */
  closeAgent(agentId: string): void;
  /** Ends its polls and deletes its queue with every command in it (agent deleted). */
  purgeAgent(agentId: string): Promise<void>;
  stats(): CommandStats;
  close(): Promise<void>;
}

type Claim = { command: Command } | { inFlightUntil: number } | { empty: true };

/**
 * A real agent holds one poll; the second is its next one arriving before the master noticed the
 * first one's connection die (a NAT dropped it, the agent restarted).
 */
const DEFAULT_MAX_POLLS_PER_AGENT = 2;

/** How long `close` waits for queue operations under way before it closes Redis. */
const CLOSE_DRAIN_MS = 5_000;

/** Command ids are UUIDs the gateway made; anything else cannot be one of them. */
const COMMAND_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The master's side of command delivery: one BullMQ queue per agent, a lease per agent in Redis,
 * and long-polls woken through one pub/sub subscription. It uses two Redis connections in all,
 * whatever the number of agents.
 *
 * Everything touching one agent's queue runs one at a time in this process (versions are taken
 * and jobs added in the same order; one command in flight), which assumes a single master process
 * per Redis, as the deployment has.
 *
 * Resolves once connected and subscribed (it waits for Redis if Redis is not up yet).
 */
export async function createCommandGateway(options: CommandGatewayOptions): Promise<CommandGateway> {
  const { logger, leaseMs } = options;
  const maxPollsPerAgent = options.maxPollsPerAgent ?? DEFAULT_MAX_POLLS_PER_AGENT;
  if (!Number.isInteger(leaseMs) || leaseMs <= 0) {
    throw new ValidationError('command gateway options', [{ path: 'leaseMs', reason: 'a positive integer' }]);
  }
  const keys = createRedisKeys(options.prefix);
  const redis = createRedisClient({
    connection: options.connection,
    name: `${keys.prefix}-cmd`,
    logger,
    failFast: true,
  });
  await redis.ready();
  const queues = createAgentCommandQueues({ client: redis.client, keys, lockMs: leaseMs });
  const leases = createCommandLeases(redis.client, keys);
  const versions = createCommandVersions(redis.client, keys);
  const mutex = createKeyedMutex();
  const polls = new Map<string, Set<PollWaiter>>();
  /**
   * Agents whose queue this process last found empty, with nothing enqueued or acknowledged since:
   * their polls wait without asking Redis (an idle fleet's long-polls cost Redis nothing). Only
   * this process changes the queues (one master per Redis); any wake, and every reconnection,
   * forgets the entry, so the next look goes to Redis again.
   */
  const knownEmpty = new Set<string>();
  const counters = { queued: 0, delivered: 0, redelivered: 0, acknowledged: 0, failed: 0 };
  let closed = false;

  const notify = (agentId: string) => {
    knownEmpty.delete(agentId);
    for (const waiter of polls.get(agentId) ?? []) waiter.notify();
  };
  // After an outage every waiting poll looks again: wakes published meanwhile were lost.
  const notifyAll = () => {
    knownEmpty.clear();
    for (const agentId of polls.keys()) notify(agentId);
  };
  const wake = await openWakeChannel({
    connection: options.connection,
    keys,
    logger,
    publisher: redis.client,
    onWake: notify,
    onReconnect: notifyAll,
  });
  redis.client.on('ready', notifyAll);

  /**
   * Queue operations still running: `close` lets them finish before it closes their connection (a
   * poll ended by `closeAgent` leaves its look in Redis running; closed under it, BullMQ's own
   * clean-up would reject with nobody to hear it).
   */
  const inFlight = new Set<Promise<void>>();
  const tracked = <T>(task: Promise<T>): Promise<T> => {
    const settled = task.then(
      () => undefined,
      () => undefined,
    );
    inFlight.add(settled);
    void settled.then(() => inFlight.delete(settled));
    return task;
  };

  /**
   * Runs `task` alone for this agent. Redis failures become `CommandQueueUnavailableError`; the
   * agent's queue object is dropped then, as BullMQ never retries a queue's failed initialisation.
   */
  const exclusive = <T>(agentId: string, operation: string, task: () => Promise<T>): Promise<T> =>
    tracked(
      mutex.run(agentId, async () => {
        if (closed)
          throw new TunnelfleetError('gateway_closed', 'the command gateway is closed', { httpStatus: 503 });
        if (redis.client.status !== 'ready')
          throw new CommandQueueUnavailableError(operation, redis.client.status);
        try {
          return await task();
        } catch (error) {
          if (error instanceof TunnelfleetError) throw error;
          knownEmpty.delete(agentId);
          await queues.evict(agentId);
          logger.warn(
            { agentId, operation, err: (error as Error).message },
            'command queue operation failed',
          );
          throw new CommandQueueUnavailableError(operation, error);
        }
      }),
    );

  const deliver = async (agentId: string, job: CommandJob, attempt: number): Promise<Claim> => {
    const lease: CommandLease = { jobId: job.id as string, expiresAt: Date.now() + leaseMs, attempt };
    await leases.write(agentId, lease);
    if (attempt === 1) counters.delivered++;
    else {
      counters.redelivered++;
      logger.info({ agentId, commandId: lease.jobId, attempt }, 'command lease ran out: delivering it again');
    }
    const command = {
      ...job.data,
      id: lease.jobId,
      lease: { expiresAt: new Date(lease.expiresAt).toISOString(), attempt },
    } as Command;
    return { command };
  };

  /** The command this agent should receive now, if any. Runs under the agent's mutex. */
  const claim = async (agentId: string): Promise<Claim> => {
    const [active, lease] = await Promise.all([queues.activeJob(agentId), leases.read(agentId)]);
    if (active !== undefined) {
      const current = lease?.jobId === active.id ? lease : undefined;
      if (current !== undefined && current.expiresAt > Date.now())
        return { inFlightUntil: current.expiresAt };
      // The lease ran out, or there is none: the master stopped between taking the job and writing it.
      const job = await queues.hold(agentId, active);
      if (job === undefined) return claim(agentId);
      return deliver(agentId, job, job.id === active.id ? (current?.attempt ?? 1) + 1 : 1);
    }
    const job = await queues.takeNext(agentId);
    if (job === undefined) {
      knownEmpty.add(agentId);
      // An idle agent holds no queue objects (about 11 KB of heap each, 110 MB for 10,000 hosts):
      // the next look, after a wake, makes them again for well under a millisecond.
      await queues.evict(agentId);
      return { empty: true };
    }
    return deliver(agentId, job, 1);
  };

  /** `claim`, unless the agent's queue is known to be empty still. Runs under the agent's mutex. */
  const look = (agentId: string): Promise<Claim> =>
    knownEmpty.has(agentId) ? Promise.resolve({ empty: true }) : claim(agentId);

  /**
   * Registers a new poll and ends the agent's oldest open ones beyond the cap. The newest poll wins
   * rather than being refused: an agent that reconnects leaves polls behind on dead connections
   * that the master only notices when their wait ends, and refusing its new poll would hold its
   * commands back until then. A poll ended this way answers `null`; the one that replaced it gets
   * the commands.
   */
  const openPoll = (agentId: string): PollWaiter => {
    const waiter = createPollWaiter();
    let set = polls.get(agentId);
    if (set === undefined) {
      set = new Set();
      polls.set(agentId, set);
    }
    const open = [...set].filter((other) => !other.closed);
    for (const oldest of open.slice(0, Math.max(0, open.length - maxPollsPerAgent + 1))) oldest.close();
    set.add(waiter);
    return waiter;
  };

  const endPoll = (agentId: string, waiter: PollWaiter) => {
    const set = polls.get(agentId);
    set?.delete(waiter);
    if (set?.size === 0) polls.delete(agentId);
  };

  const closeAgent = (agentId: string) => {
    for (const waiter of polls.get(agentId) ?? []) waiter.close();
  };

  return {
    async enqueue(agentId, request, { afterVersion = 0 } = {}) {
      assertAgentId(agentId);
      if (!Number.isSafeInteger(afterVersion) || afterVersion < 0) {
        throw new ValidationError('enqueue options', [
          { path: 'afterVersion', reason: 'a non-negative integer' },
        ]);
      }
      const id = randomUUID();
      const issuedAt = new Date().toISOString();
      // Validated before a version is spent, with a placeholder version.
      parseOrThrow(commandSchema, { ...request, id, version: 0, issuedAt }, 'command');
      const command = await exclusive(agentId, 'enqueue', async () => {
        const version = await versions.next(agentId, afterVersion);
        const data = { ...request, version, issuedAt };
        knownEmpty.delete(agentId);
        await queues.add(agentId, id, data);
        counters.queued++;
        return { ...data, id } as Command;
      });
      await wake.publish(agentId).catch((error: Error) => {
        // The command is queued; a poll waiting now gets it when its wait ends instead.
        logger.warn({ agentId, err: error.message }, 'could not announce a queued command');
      });
      return command;
    },

    async next(agentId, { signal, timeoutMs }) {
      assertAgentId(agentId);
      if (closed || signal?.aborted) return null;
      const deadline = Date.now() + timeoutMs;
      const waiter = openPoll(agentId);
      const onAbort = () => waiter.close();
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for (let first = true; ; ) {
          waiter.arm();
          const attempt = exclusive(agentId, 'next', () => look(agentId));
          // A claim finished after the poll ended leaves its command leased: it is delivered again later.
          attempt.catch(() => undefined);
          const result = await Promise.race([attempt, waiter.whenClosed]).catch((error: unknown) => {
            // Redis down when the poll starts: say so (503). Once waiting, the poll waits the outage
            // out and looks again when the connection is back.
            if (first || !(error instanceof CommandQueueUnavailableError)) throw error;
            return { empty: true } as const;
          });
          first = false;
          if (result === undefined || waiter.closed) return null;
          if ('command' in result) return result.command;
          const now = Date.now();
          if (now >= deadline) return null;
          const until = 'inFlightUntil' in result ? Math.min(deadline, result.inFlightUntil) : deadline;
          await waiter.wait(until - now);
          if (waiter.closed) return null;
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
        endPoll(agentId, waiter);
      }
    },

    async acknowledge(agentId, commandId, ack) {
      assertAgentId(agentId);
      if (ack.commandId !== commandId) {
        throw new ValidationError('acknowledgement', [
          { path: 'commandId', reason: 'must equal the command id of the path' },
        ]);
      }
      const notFound = () => new NotFoundError(`no command ${commandId} delivered to this agent`);
      if (!COMMAND_ID.test(commandId)) throw notFound();
      const outcome = await exclusive(agentId, 'acknowledge', async (): Promise<AckOutcome> => {
        const job = await queues.getJob(agentId, commandId);
        if (job === undefined) throw notFound();
        if (job.data.version !== ack.version) {
          throw new ValidationError('acknowledgement', [
            { path: 'version', reason: `command ${commandId} has version ${job.data.version}` },
          ]);
        }
        const state = await queues.getState(job);
        if (state === 'completed' || state === 'failed') return 'already_acknowledged';
        if (state !== 'active') throw notFound();
        if (ack.status === 'error') {
          await queues.fail(
            agentId,
            job,
            `${ack.error?.code ?? 'error'}: ${ack.error?.message ?? 'no message'}`,
          );
          counters.failed++;
        } else {
          await queues.complete(agentId, job, { status: ack.status, result: ack.result });
          counters.acknowledged++;
        }
        await leases.clear(agentId, commandId);
        knownEmpty.delete(agentId);
        return 'acknowledged';
      });
      if (outcome === 'acknowledged') {
        // Hands the next command to a poll that waited behind this one.
        await wake.publish(agentId).catch((error: Error) => {
          logger.warn({ agentId, err: error.message }, 'could not announce an acknowledgement');
        });
      }
      return outcome;
    },

    closeAgent(agentId) {
      closeAgent(agentId);
    },

    async purgeAgent(agentId) {
      assertAgentId(agentId);
      closeAgent(agentId);
      await exclusive(agentId, 'purge', async () => {
        knownEmpty.delete(agentId);
        await queues.obliterate(agentId);
        // The version counter stays: a reused agent id must never see versions go backwards.
        await leases.clear(agentId);
      });
    },

    stats() {
      let openPolls = 0;
      for (const set of polls.values()) openPolls += set.size;
      return { ...counters, openPolls };
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const agentId of polls.keys()) closeAgent(agentId);
      // Bounded: a stop must not hang on a Redis that stopped answering.
      await Promise.race([Promise.all(inFlight), delay(CLOSE_DRAIN_MS, undefined, { ref: false })]);
      await queues.close();
      await wake.close();
      await redis.close();
    },
  };
}
