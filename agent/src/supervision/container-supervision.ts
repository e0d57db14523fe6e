import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { type BackoffOptions, createBackoff } from '../docker/backoff.js';
import { isConflict, isNotFound, isNotModified } from '../docker/docker-errors.js';
import { subscribeDockerEvents } from '../docker/docker-events.js';
import { ContainerNameTakenError } from './errors.js';

/** Where a supervised container stands, as far as the loop knows. */
export type SupervisionPhase = 'running' | 'restarting' | 'missing' | 'stopped';

/** What one supervised container is made from. */
export interface SupervisedTarget {
  name: string;
  /** Hash of everything the container is created from, on its `specHashLabel`: another means replace it. */
  specHash: string;
  createOptions: Docker.ContainerCreateOptions;
  /**
   * The internal network the agent reaches the container on (probes, API). The container joins it
   * under `probeAlias` before it starts: it resolves the alias once, to listen on that address alone.
   */
  probeNetwork: string;
  probeAlias: string;
}

export interface ContainerSupervisionOptions {
  docker: Docker;
  /** Already the supervisor's own child logger. */
  logger: Logger;
  /** What runs (`cloudflared`, `gateway`): in log lines and errors. */
  what: string;
  /** Labels selecting the supervised containers (Docker ANDs them); also the events' filter. */
  labelFilter: string[];
  /** Of the containers the labels select, the ones this supervisor runs (all if unset). */
  owns?: (labels: Record<string, string>) => boolean;
  /** The label holding a container's `specHash`. */
  specHashLabel: string;
  checkIntervalMs: number;
  /** Delay between restarts of a crashing container. */
  restartBackoff: BackoffOptions;
  /** Up this long, a container's crash counts as the first one again. */
  stableAfterMs: number;
  /** Whether the container should run now; restarts and checks do nothing while it should not. */
  wanted(): boolean;
  /** Brings the container back after a crash, an outside removal or a failed start (in the queue). */
  restart(): Promise<void>;
  /** The container has stopped: say why (`lastError`) and `scheduleRestart`, or give up. */
  exited(info: Docker.ContainerInspectInfo, containerId: string): Promise<void>;
  /** The container runs: probe it (it is on `probeNetwork` at `address`, if it has one there). */
  running(info: Docker.ContainerInspectInfo, containerId: string): Promise<void>;
  /** A check that threw (besides the logged error). */
  checkFailed?(error: unknown): void;
}

export interface ContainerSupervision {
  /** Runs `task` after every operation queued before it: one container, one operation at a time. */
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly phase: SupervisionPhase;
  readonly ready: boolean;
  readonly containerId: string | undefined;
  /** Restarts after a crash or an outside kill/removal, since this supervision began. */
  readonly restarts: number;
  lastError: string | undefined;
  /** Aborted by `stop`: a wait in progress (a replacement's overlap) ends at once. */
  readonly stopping: AbortSignal;
  readonly stopped: boolean;
  setPhase(phase: SupervisionPhase): void;
  /** No container runs, nor should: it is forgotten and the phase is `stopped`. */
  markStopped(): void;
  setReady(ready: boolean): void;
  listManaged(): Promise<Docker.ContainerInfo[]>;
  /** Stops (with the container's own grace period) and removes it; gone already is fine. */
  removeContainer(id: string): Promise<void>;
  /**
   * Keeps one container fitting `target` (the running one first, then the newest), removing every
   * other supervised one but `spare`; undefined if none fits. One never joined to the probe
   * network (the agent stopped between creating and connecting it) does not fit.
   */
  keepOne(target: SupervisedTarget, spare?: string): Promise<Docker.ContainerInfo | undefined>;
  /**
   * Runs what `keepOne` kept, or creates, connects and starts a new container (`logFields` go in
   * its log line). A creation that loses to another agent process creating the same container
   * adopts that one, sparing `spare` as `keepOne` does.
   */
  launch(
    target: SupervisedTarget,
    keeper: Docker.ContainerInfo | undefined,
    options: { logFields: Record<string, unknown>; spare?: string | undefined },
  ): Promise<void>;
  /**
   * Sets a running container of another spec aside so that its successor can start beside it
   * under the supervised name and probe alias: renamed to `asideName` (removing a stale one left
   * there) and taken off the probe network (two containers with one alias would each resolve the
   * other's address). It keeps serving on its other networks until it is removed.
   */
  setAside(current: Docker.ContainerInfo, asideName: string, probeNetwork: string): Promise<void>;
  /** Inspects the container: an exit or a removal schedules a restart; a running one is probed. */
  check(): Promise<void>;
  /** Queues `check` from outside the queue (events, the timer); a failure is logged. */
  runCheck(): void;
  /** `cause` groups repeats of one failure (a long-offline host) so they do not flood the log. */
  scheduleRestart(why: string, cause?: string): void;
  cancelRestart(): void;
  /** Stops supervising; the container keeps running unless `removeContainer` is set. */
  stop(options?: { removeContainer?: boolean }): Promise<void>;
}

/**
 * The loop that keeps one container of an agent running, shared by cloudflared's and the gateway's
 * supervisors: one queue of operations, Docker events plus a periodic check, restarts with capped
 * jittered backoff (reset after `stableAfterMs` up), adoption of a container of the same spec hash,
 * removal of every other. What the container is and how it is probed is the caller's.
 */
export function createContainerSupervision(options: ContainerSupervisionOptions): ContainerSupervision {
  const { docker, logger, what } = options;
  const backoff = createBackoff(options.restartBackoff);
  const mutex = createKeyedMutex();
  const run = <T>(task: () => Promise<T>): Promise<T> => mutex.run(what, task);
  const stopping = new AbortController();

  let phase: SupervisionPhase = 'stopped';
  let ready = false;
  let containerId: string | undefined;
  let startedAt = 0;
  let restarts = 0;
  let lastError: string | undefined;
  /** What the last "down; retrying" warning was about: the same cause again is logged at debug. */
  let warnedAbout: string | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let stopped = false;

  const setReady = (value: boolean) => {
    if (value !== ready)
      logger.info({ containerId, ready: value }, value ? `${what} ready` : `${what} not ready`);
    ready = value;
    if (ready) warnedAbout = undefined;
  };

  /** No container runs, nor should: forget the one there was. */
  const markStopped = () => {
    setReady(false);
    containerId = undefined;
    phase = 'stopped';
  };

  const listManaged = async () => {
    const listed = await docker.listContainers({ all: true, filters: { label: options.labelFilter } });
    return options.owns ? listed.filter((c) => options.owns?.(c.Labels)) : listed;
  };

  const removeContainer = async (id: string) => {
    try {
      // No timeout here: Docker uses the container's own StopTimeout, so in-flight requests finish.
      await docker.getContainer(id).stop();
    } catch (error) {
      if (!isNotModified(error) && !isNotFound(error)) throw error;
    }
    try {
      await docker.getContainer(id).remove({ force: true });
    } catch (error) {
      // 409: Docker is already removing it.
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
  };

  const startContainer = async (id: string) => {
    try {
      await docker.getContainer(id).start();
    } catch (error) {
      if (!isNotModified(error)) throw error;
    }
    containerId = id;
    startedAt = Date.now();
  };

  const keepOne = async (target: SupervisedTarget, spare?: string) => {
    const managed = (await listManaged()).filter((c) => c.Id !== spare);
    const keeper = managed
      .filter(
        (c) =>
          c.Labels[options.specHashLabel] === target.specHash &&
          c.NetworkSettings?.Networks?.[target.probeNetwork] !== undefined,
      )
      .sort(
        (a, b) => Number(b.State === 'running') - Number(a.State === 'running') || b.Created - a.Created,
      )[0];
    for (const other of managed) {
      if (other.Id === keeper?.Id) continue;
      logger.info(
        { containerId: other.Id },
        keeper ? `removing a duplicate ${what} container` : `removing an outdated ${what} container`,
      );
      await removeContainer(other.Id);
    }
    return keeper;
  };

  const adopt = async (keeper: Docker.ContainerInfo) => {
    if (keeper.Id !== containerId)
      logger.info({ containerId: keeper.Id, state: keeper.State }, `adopting the existing ${what} container`);
    if (keeper.State !== 'running') await startContainer(keeper.Id);
    else if (keeper.Id !== containerId) {
      containerId = keeper.Id;
      startedAt = Date.now();
    }
  };

  const launch = async (
    target: SupervisedTarget,
    keeper: Docker.ContainerInfo | undefined,
    { logFields, spare }: { logFields: Record<string, unknown>; spare?: string | undefined },
  ) => {
    if (keeper) return adopt(keeper);
    try {
      const created = await docker.createContainer(target.createOptions);
      await docker
        .getNetwork(target.probeNetwork)
        .connect({ Container: created.id, EndpointConfig: { Aliases: [target.probeAlias] } });
      logger.info({ containerId: created.id, ...logFields }, `${what} created`);
      await startContainer(created.id);
    } catch (error) {
      if (!isConflict(error)) throw error;
      // Another supervisor (an agent restarting over this one) created it first: adopt it.
      const theirs = await keepOne(target, spare);
      if (!theirs) throw new ContainerNameTakenError(target.name);
      await adopt(theirs);
    }
  };

  const setAside = async (current: Docker.ContainerInfo, asideName: string, probeNetwork: string) => {
    // Left aside by a replacement that did not finish (the agent stopped meanwhile).
    for (const stale of (await listManaged()).filter(
      (c) => c.Id !== current.Id && c.Names.includes(`/${asideName}`),
    ))
      await removeContainer(stale.Id);
    if (!current.Names.includes(`/${asideName}`))
      await docker.getContainer(current.Id).rename({ name: asideName });
    // Already off it when a retry after a failed replacement sets it aside again.
    if (current.NetworkSettings?.Networks?.[probeNetwork] !== undefined) {
      try {
        await docker.getNetwork(probeNetwork).disconnect({ Container: current.Id });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  };

  const cancelRestart = () => {
    if (restartTimer) clearTimeout(restartTimer);
    restartTimer = undefined;
  };

  const scheduleRestart = (why: string, cause = why) => {
    if (restartTimer || stopped) return;
    if (startedAt && Date.now() - startedAt >= options.stableAfterMs) backoff.reset();
    const delayMs = backoff.next();
    // Without a container (image not pullable yet, say) the retry is not a restart of anything.
    phase = containerId ? 'restarting' : 'missing';
    setReady(false);
    const level = cause === warnedAbout ? 'debug' : 'warn';
    warnedAbout = cause;
    logger[level]({ containerId, why, delayMs, attempt: backoff.attempts }, `${what} is down; retrying`);
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      void run(async () => {
        if (stopped || !options.wanted()) return;
        if (containerId) restarts += 1;
        try {
          await options.restart();
        } catch (error) {
          lastError = error instanceof Error ? error.message : String(error);
          logger.error({ err: error }, `${what} restart failed`);
          scheduleRestart('restart failed');
        }
      });
    }, delayMs);
  };

  const check = async () => {
    if (stopped || restartTimer || !options.wanted()) return;
    if (!containerId) {
      scheduleRestart('not started');
      return;
    }
    const id = containerId;
    let info: Docker.ContainerInspectInfo;
    try {
      info = await docker.getContainer(id).inspect();
    } catch (error) {
      if (isNotFound(error)) {
        lastError = `${what} container was removed`;
        scheduleRestart('container removed');
      } else logger.warn({ err: error }, `cannot inspect ${what}`);
      return;
    }
    if (!info.State.Running) {
      await options.exited(info, id);
      return;
    }
    phase = 'running';
    lastError = undefined;
    if (Date.now() - startedAt >= options.stableAfterMs) backoff.reset();
    await options.running(info, id);
  };

  const runCheck = () => {
    void run(check).catch((error) => {
      options.checkFailed?.(error);
      logger.error({ err: error }, `${what} check failed`);
    });
  };

  const events = subscribeDockerEvents({
    docker,
    logger,
    filters: { type: ['container'], label: options.labelFilter, event: ['start', 'die', 'destroy'] },
    onConnected: ({ first }) => {
      if (!first) runCheck();
    },
    onEvent: runCheck,
  });
  const checkTimer = setInterval(runCheck, options.checkIntervalMs);
  checkTimer.unref();

  return {
    run,
    get phase() {
      return phase;
    },
    get ready() {
      return ready;
    },
    get containerId() {
      return containerId;
    },
    get restarts() {
      return restarts;
    },
    get lastError() {
      return lastError;
    },
    set lastError(value) {
      lastError = value;
    },
    stopping: stopping.signal,
    get stopped() {
      return stopped;
    },
    setPhase(next) {
      phase = next;
    },
    markStopped,
    setReady,
    listManaged,
    removeContainer,
    keepOne,
    launch,
    setAside,
    check,
    runCheck,
    scheduleRestart,
    cancelRestart,
    async stop({ removeContainer: remove = false } = {}) {
      stopped = true;
      stopping.abort();
      clearInterval(checkTimer);
      cancelRestart();
      events.stop();
      await mutex.idle(what);
      if (remove) {
        for (const container of await listManaged()) await removeContainer(container.Id);
        markStopped();
      }
    },
  };
}
