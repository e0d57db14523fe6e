import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { isNotFound, isNotModified } from '../docker/docker-errors.js';
import type { SleepingContainers } from '../state/sleeping-containers.js';

export interface ContainerWaker {
  /** Starts the container after its dependencies, in their order; resolves with its id. */
  wake(request: { container: string; dependsOn: string[] }, why: string): Promise<string>;
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
      for (const dependency of request.dependsOn) await startOne(dependency, why);
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
