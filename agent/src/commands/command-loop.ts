import { COMMAND_POLL_DEFAULT_WAIT_SECONDS, type CommandAck, type Logger } from '@tunnelfleet/common';
import {
  createRetryDelay,
  type MasterClient,
  MasterClientError,
  pause,
  type RetryDelayOptions,
} from '../master-client/index.js';
import type { CommandExecutor } from './command-executor.js';
import { createPollCutDetector } from './poll-cut-detector.js';

interface CommandLoopOptions {
  client: MasterClient;
  executor: CommandExecutor;
  logger: Logger;
  /** A fixed long-poll wait (tests); without it the agent takes the wait each answer advises. */
  waitSeconds?: number;
  retry?: RetryDelayOptions;
}

export interface CommandLoop {
  stop(): Promise<void>;
}

/**
 * Long-polls the master for the next command, executes it, and acknowledges it. One command at a
 * time, in order. An acknowledgement that cannot be delivered is retried before the next poll; if
 * the master drops it (lease expired), it redelivers the command and the executor re-acknowledges.
 */
export function startCommandLoop(options: CommandLoopOptions): CommandLoop {
  const { client, executor } = options;
  const logger = options.logger.child({ component: 'command-loop' });
  let waitSeconds = options.waitSeconds ?? COMMAND_POLL_DEFAULT_WAIT_SECONDS;
  const retry = createRetryDelay(options.retry);
  const abort = new AbortController();
  let pendingAck: CommandAck | undefined;
  const cuts = createPollCutDetector();
  /** Under the time a proxy lets a poll last, once one was found to cut them. */
  let cutWaitSeconds = Number.POSITIVE_INFINITY;

  /** A poll, watched for a proxy that ends polls before their wait. */
  const poll = async () => {
    const wait = Math.min(waitSeconds, cutWaitSeconds);
    const started = performance.now();
    try {
      const answer = await client.nextCommand({ waitSeconds: wait, signal: abort.signal });
      cuts.answered();
      return answer;
    } catch (error) {
      const cut = abort.signal.aborted ? undefined : cuts.failed(performance.now() - started, wait, error);
      if (cut && cut.waitSeconds < cutWaitSeconds) {
        cutWaitSeconds = cut.waitSeconds;
        logger.warn(
          {
            cutAfterSeconds: Math.round(cut.afterMs / 1000),
            waitSeconds: wait,
            nowWaitSeconds: cut.waitSeconds,
            err: error,
          },
          "command polls end before their wait: a proxy between this host and the master likely times out reads sooner than the master's COMMAND_POLL_WAIT_SECONDS; polling with a shorter wait from now on (raise the proxy's read timeout above the wait: docs/operations.md)",
        );
      }
      throw error;
    }
  };

  const step = async () => {
    if (pendingAck) {
      await client.acknowledge(pendingAck);
      pendingAck = undefined;
    }
    const { command, advisedWaitSeconds } = await poll();
    retry.reset();
    // The master paces the fleet's polls (COMMAND_POLL_WAIT_SECONDS); one of an earlier version
    // advises nothing, and the wait stays.
    if (
      options.waitSeconds === undefined &&
      advisedWaitSeconds !== undefined &&
      advisedWaitSeconds !== waitSeconds
    ) {
      logger.info({ from: waitSeconds, to: advisedWaitSeconds }, 'command poll wait set by the master');
      waitSeconds = advisedWaitSeconds;
    }
    if (!command) return;
    logger.info(
      {
        commandId: command.id,
        type: command.type,
        version: command.version,
        attempt: command.lease?.attempt,
      },
      'command received',
    );
    pendingAck = await executor.execute(command);
    await client.acknowledge(pendingAck);
    pendingAck = undefined;
  };

  const run = async () => {
    while (!abort.signal.aborted) {
      try {
        await step();
      } catch (error) {
        if (abort.signal.aborted) break;
        if (error instanceof MasterClientError && !error.retryable && pendingAck) {
          // The master will not take this acknowledgement (e.g. the lease moved on): it redelivers.
          logger.warn(
            { err: error, commandId: pendingAck.commandId },
            'acknowledgement refused; dropping it',
          );
          pendingAck = undefined;
        } else logger.debug({ err: error }, 'command poll failed');
        await pause(retry.next(error), abort.signal).done;
      }
    }
  };

  const running = run();
  return {
    async stop() {
      abort.abort();
      await running;
    },
  };
}
