import { createKeyedMutex, createSecretMasker, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { lastOutputLines } from '../docker/container-output.js';
import { isNotFound, isNotModified } from '../docker/docker-errors.js';
import type { SleepingContainers } from '../state/sleeping-containers.js';
import type { GatewayClient, WakeRequests } from './gateway-client.js';
import { dependencyOrder, WakeFailedError, waitDependencyReady } from './wake-dependencies.js';

/** Long-poll length: the gateway answers at once when a start is wanted. */
const WAIT_MS = 20_000;
/** While a woken container starts, its last lines go to the loading page this often, this long. */
const LOG_PUSH_INTERVAL_MS = 1_000;
const LOG_PUSH_FOR_MS = 120_000;
const LOG_LINES = 50;
const DEFAULT_START_TIMEOUT_MS = 60_000;

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
  /** Each waking container's `depends_on`, from the routes last given: dependencies of dependencies. */
  dependencies?: () => ReadonlyMap<string, readonly string[]>;
  /** Where the containers stopped for idleness are remembered, so that they are reported `sleeping`. */
  sleeping?: Pick<SleepingContainers, 'add' | 'delete'>;
  /**
   * Secrets without a recognisable shape (the agent's API key, the gateway's token) masked in the
   * log lines, beside the shapes the logger masks: the loading page is public.
   */
  secrets?: readonly string[];
  retryMs?: number;
}): WakeLoop {
  const { docker } = options;
  const logger = options.logger.child({ component: 'wake-loop' });
  const mutex = createKeyedMutex();
  const mask = createSecretMasker(options.secrets);
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
    // A gateway of an older release sends no timeout: its default.
    const deadline = Date.now() + (request.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    try {
      // The route's own list, in its order, each one's own depends_on before it.
      const direct = new Map(options.dependencies?.() ?? []);
      direct.set(request.container, request.dependsOn);
      // Each dependency ready before the next starts: a database up before the app that needs it.
      for (const dependency of dependencyOrder(request.container, direct)) {
        await startOne(dependency).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
          throw new WakeFailedError(`dependency ${dependency} does not exist on this host`);
        });
        await waitDependencyReady(docker, dependency, deadline);
      }
      const id = await startOne(request.container);
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
