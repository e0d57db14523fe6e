import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { lastOutputLines } from '../docker/container-output.js';
import { isNotFound, isNotModified } from '../docker/docker-errors.js';
import type { SleepingContainers } from '../state/sleeping-containers.js';
import type { GatewayClient } from './gateway-client.js';

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
 * them, since the agent is the only Docker client. Dependencies start first, in their order; one
 * mutex per container name makes concurrent requests for one container a single `docker start`.
 */
export function startWakeLoop(options: {
  docker: Docker;
  logger: Logger;
  /** The gateway's API while it is ready; undefined: wait. */
  client: () => GatewayClient | undefined;
  /** Where the containers stopped for idleness are remembered, so that they are reported `sleeping`. */
  sleeping?: Pick<SleepingContainers, 'add' | 'delete'>;
  retryMs?: number;
}): WakeLoop {
  const { docker } = options;
  const logger = options.logger.child({ component: 'wake-loop' });
  const mutex = createKeyedMutex();
  let stopped = false;
  let after = 0;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

  const startOne = (name: string) =>
    mutex.run(name, async () => {
      const container = docker.getContainer(name);
      const info = await container.inspect();
      await options.sleeping?.delete(name);
      if (info.State.Running) return info.Id;
      try {
        await container.start();
        logger.info({ container: name }, 'woken');
      } catch (error) {
        if (!isNotModified(error)) throw error;
      }
      return info.Id;
    });

  const pushLogs = async (client: GatewayClient, name: string, id: string) => {
    const until = Date.now() + LOG_PUSH_FOR_MS;
    while (!stopped && Date.now() < until) {
      const lines = await lastOutputLines(docker, id, LOG_LINES).catch(() => []);
      await client.putLogs(name, lines).catch(() => undefined);
      await pause(LOG_PUSH_INTERVAL_MS);
    }
  };

  const wake = async (client: GatewayClient, request: { container: string; dependsOn: string[] }) => {
    try {
      for (const dependency of request.dependsOn) await startOne(dependency);
      const id = await startOne(request.container);
      void pushLogs(client, request.container, id);
    } catch (error) {
      logger.error({ err: error, container: request.container }, 'cannot wake the container');
    }
  };

  const sleep = async (name: string) => {
    try {
      await mutex.run(name, async () => {
        // Written before the stop: the watcher reports the stopped container as sleeping.
        await options.sleeping?.add(name);
        await docker.getContainer(name).stop();
      });
      logger.info({ container: name }, 'stopped after its idle timeout');
    } catch (error) {
      if (!isNotModified(error) && !isNotFound(error))
        logger.error({ err: error, container: name }, 'cannot stop');
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
        for (const name of answer.stop) void sleep(name);
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
