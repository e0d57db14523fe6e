import { createSecretMasker, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { lastOutputLines } from '../docker/container-output.js';
import type { ContainerWaker } from './container-waker.js';
import type { GatewayClient, WakeRequests } from './gateway-client.js';
import { WakeFailedError } from './wake-dependencies.js';

/** Long-poll length: the gateway answers at once when a start is wanted. */
const WAIT_MS = 20_000;
/** While a woken container starts, its last lines go to the loading page this often, this long. */
const LOG_PUSH_INTERVAL_MS = 1_000;
const LOG_PUSH_FOR_MS = 120_000;
const LOG_LINES = 50;

export interface WakeLoop {
  stop(): void;
}

/**
 * The agent's half of wake on request: it collects the gateway's start and stop requests and does
 * them, since the agent is the only Docker client (through the waker: dependencies first and
 * ready, one `docker start` for concurrent requests).
 */
export function startWakeLoop(options: {
  docker: Docker;
  logger: Logger;
  /** The gateway's API while it is ready; undefined: wait. */
  client: () => GatewayClient | undefined;
  /** Starts and stops the containers (shared with the schedules: one mutex per container). */
  waker: ContainerWaker;
  /**
   * Secrets without a recognisable shape (the agent's API key, the gateway's token) masked in the
   * log lines, beside the shapes the logger masks: the loading page is public.
   */
  secrets?: readonly string[];
  retryMs?: number;
}): WakeLoop {
  const { docker } = options;
  const logger = options.logger.child({ component: 'wake-loop' });
  const mask = createSecretMasker(options.secrets);
  let stopped = false;
  let after = 0;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

  const pushLogs = async (client: GatewayClient, name: string, id: string) => {
    const until = Date.now() + LOG_PUSH_FOR_MS;
    while (!stopped && Date.now() < until) {
      // Container output is anyone's: a token it prints must not reach a public page.
      const lines = (await lastOutputLines(docker, id, LOG_LINES).catch(() => [])).map(mask);
      await client.putLogs(name, lines).catch(() => undefined);
      await pause(LOG_PUSH_INTERVAL_MS);
    }
  };

  /** The dependency's last lines, for the page that says why the wake failed. */
  const failureLines = async (name: string) =>
    (await lastOutputLines(docker, name, LOG_LINES).catch(() => [])).map((line) => mask(`[${name}] ${line}`));

  const wake = async (client: GatewayClient, request: WakeRequests['start'][number]) => {
    try {
      const id = await options.waker.wake(request, 'a request');
      void pushLogs(client, request.container, id);
    } catch (error) {
      logger.error({ err: error, container: request.container }, 'cannot wake the container');
      // The page says why at once instead of waiting out the start timeout.
      if (error instanceof WakeFailedError) {
        const dependency = error.details?.dependency;
        const lines = typeof dependency === 'string' ? await failureLines(dependency) : [];
        await client.putLogs(request.container, lines, error.message).catch(() => undefined);
      }
    }
  };

  void (async () => {
    while (!stopped) {
      const client = options.client();
      if (!client) {
        await pause(options.retryMs ?? 1_000);
        continue;
      }
      try {
        const answer = await client.wakeRequests(after, WAIT_MS);
        // A restarted gateway counts from 0 again: start over with it.
        after = answer.seq < after ? 0 : answer.seq;
        for (const request of answer.start) void wake(client, request);
        for (const name of answer.stop) void options.waker.sleep(name, 'idle timeout');
      } catch (error) {
        logger.debug({ err: error }, 'wake long-poll failed; retrying');
        await pause(options.retryMs ?? 1_000);
      }
    }
  })();

  return {
    stop() {
      stopped = true;
    },
  };
}
