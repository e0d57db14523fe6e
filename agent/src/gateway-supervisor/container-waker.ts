import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { isNotFound, isNotModified } from '../docker/docker-errors.js';
import type { SleepingContainers } from '../state/sleeping-containers.js';
import { WakeFailedError, waitDependencyReady, wakeOrder } from './wake-dependencies.js';

/** A route's start timeout when the gateway sent none (a gateway of an older release). */
const DEFAULT_START_TIMEOUT_MS = 60_000;

export interface WakeRequest {
  container: string;
  dependsOn: string[];
  /** Bounds the whole chain: each dependency started and ready, then the container started. */
  startTimeoutMs?: number;
}

export interface ContainerWaker {
  /**
   * Starts the container after its dependencies, each ready before the next starts; resolves with
   * its id. Rejects with `WakeFailedError` when a dependency is missing, fails or is not ready in time.
   */
  wake(request: WakeRequest, why: string): Promise<string>;
  /** Stops it and remembers it as sleeping (reported `sleeping`, its routes kept published). */
  sleep(name: string, why: string): Promise<void>;
}

/**
 * Starts and stops waking containers for the gateway's requests and for schedules alike. One mutex
 * per container name: concurrent wakes of one container are a single `docker start`, and a stop
 * never interleaves with a start.
 */
export function createContainerWaker(options: {
  docker: Docker;
  logger: Logger;
  /** Where the containers put to sleep are remembered, so that they are reported `sleeping`. */
  sleeping?: Pick<SleepingContainers, 'add' | 'delete'> | undefined;
  /** Each waking container's `depends_on`, from the routes last given: dependencies of dependencies. */
  dependencies?: () => ReadonlyMap<string, readonly string[]>;
}): ContainerWaker {
  const { docker, logger } = options;
  const mutex = createKeyedMutex();

  const startOne = (name: string, why: string) =>
    mutex.run(name, async () => {
      const container = docker.getContainer(name);
      const info = await container.inspect();
      await options.sleeping?.delete(name);
      if (info.State.Running) return info.Id;
      try {
        await container.start();
        logger.info({ container: name, why }, 'woken');
      } catch (error) {
        if (!isNotModified(error)) throw error;
      }
      return info.Id;
    });

  return {
    async wake(request, why) {
      const deadline = Date.now() + (request.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
      // The route's own list, in its order, each one's own depends_on before it.
      const direct = new Map(options.dependencies?.() ?? []);
      direct.set(request.container, request.dependsOn);
      // Each dependency ready before the next starts: a database up before the app that needs it.
      for (const dependency of wakeOrder(request.container, direct)) {
        await startOne(dependency, why).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
          throw new WakeFailedError(`dependency ${dependency} does not exist on this host`);
        });
        await waitDependencyReady(docker, dependency, deadline);
      }
      return startOne(request.container, why);
    },
    async sleep(name, why) {
      try {
        await mutex.run(name, async () => {
          // Written before the stop: the watcher reports the stopped container as sleeping.
          await options.sleeping?.add(name);
          await docker.getContainer(name).stop();
        });
        logger.info({ container: name, why }, 'put to sleep');
      } catch (error) {
        if (!isNotModified(error) && !isNotFound(error))
          logger.error({ err: error, container: name }, 'cannot stop');
      }
    },
  };
}
