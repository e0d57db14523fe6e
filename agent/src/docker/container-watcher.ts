import {
  type Container,
  type ContainerChange,
  containerSchema,
  createKeyedMutex,
  type LabelPrefixes,
  type Logger,
  labelPrefixesOf,
  parseContainerLabels,
} from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { type BackoffOptions, createBackoff } from './backoff.js';
import { labelParseContext, normalizeContainer } from './container-info.js';
import { isNotFound } from './docker-errors.js';
import { DEFAULT_RECONNECT, type DockerEvent, subscribeDockerEvents } from './docker-events.js';
import { hasTunnelLabels } from './label-match.js';

export type ResyncReason = 'initial' | 'reconnect';

export interface ContainerWatcherOptions {
  docker: Docker;
  logger: Logger;
  /**
   * The host's custom DockFlare and Labelgate prefixes: a container with a label under them, or
   * under a built-in prefix, is ours to report.
   */
  labelPrefixes?: LabelPrefixes;
  /** Safety-net full list in case an event was lost; its differences arrive through `onChange`. */
  relistIntervalMs?: number;
  /** One container appeared, changed or disappeared. */
  onChange: (change: ContainerChange) => void;
  /** The complete current list, after the first connection and after every reconnection. */
  onResync: (containers: Container[], reason: ResyncReason) => void;
  reconnect?: BackoffOptions;
  /** Containers the agent stopped for their idle timeout (kept in its data dir). */
  sleeping?: { has(name: string): boolean };
}

export interface ContainerWatcher {
  /** The event stream is open and the last Docker call succeeded. */
  readonly dockerReachable: boolean;
  /** The watcher's current view of our containers. */
  containers(): Container[];
  stop(): Promise<void>;
}

const DEFAULT_RELIST_INTERVAL_MS = 60_000;

const CONTAINER_ACTIONS = [
  'create',
  'start',
  'restart',
  'stop',
  'die',
  'pause',
  'unpause',
  'destroy',
  'rename',
  'update',
];
/** Network (dis)connections change a container's addresses. */
const NETWORK_ACTIONS = ['connect', 'disconnect'];

/** A container with hundreds of bad labels should not flood the log. */
const MAX_LOGGED_PROBLEMS = 20;

interface Known {
  container: Container;
  /** Serialized form, to emit a change only when something a route depends on changed. */
  json: string;
}

/**
 * Watches the containers carrying our labels: events for immediacy, a relist after every
 * (re)connection because Docker does not replay events, and a periodic relist as a safety net.
 * All work runs on one queue so that an inspect can never overtake a later event's.
 */
export function createContainerWatcher(options: ContainerWatcherOptions): ContainerWatcher {
  const { docker, logger, onChange, onResync } = options;
  const prefixes = labelPrefixesOf(options.labelPrefixes);
  const relistIntervalMs = options.relistIntervalMs ?? DEFAULT_RELIST_INTERVAL_MS;
  const known = new Map<string, Known>();
  const retryBackoff = createBackoff(options.reconnect ?? DEFAULT_RECONNECT);
  const mutex = createKeyedMutex();
  let stopped = false;
  let lastCallOk = false;
  /** A full resync that failed and is still owed to the consumer. */
  let pendingResync: ResyncReason | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const enqueue = (task: () => Promise<void>) => {
    void mutex.run('containers', async () => {
      if (stopped) return;
      try {
        await task();
      } catch (error) {
        logger.error({ err: error }, 'container watcher task failed');
      }
    });
  };

  const emit = (change: ContainerChange) => {
    if (stopped) return;
    try {
      onChange(change);
    } catch (error) {
      logger.error({ err: error }, 'container watcher onChange handler failed');
    }
  };

  /** Inspect and validate one container; undefined when it is gone or not ours. */
  const load = async (id: string): Promise<Container | undefined> => {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await docker.getContainer(id).inspect();
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    if (!hasTunnelLabels(info.Config?.Labels, prefixes)) return undefined;
    const parsed = containerSchema.safeParse(withSleep(normalizeContainer(info)));
    if (!parsed.success) {
      logger.warn(
        {
          containerId: id,
          containerName: info.Name.replace(/^\//, ''),
          issues: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
        },
        'container cannot be reported: Docker returned values outside the protocol limits',
      );
      return undefined;
    }
    return parsed.data;
  };

  /**
   * A stopped container that wakes on request sleeps: the agent stopped it for idleness, or its
   * labels say `wake=true`. So does one created and never started (`docker compose create`): the
   * first request starts it. The master believes it only for routes its labels make wake.
   */
  const withSleep = (container: Container): Container => {
    if (container.state !== 'exited' && container.state !== 'created') return container;
    const wakes =
      options.sleeping?.has(container.name) ||
      parseContainerLabels(container.labels, {
        ...labelParseContext(container),
        ...(options.labelPrefixes ? { labelPrefixes: options.labelPrefixes } : {}),
      }).routes.some((route) => route.wake !== undefined);
    return wakes ? { ...container, state: 'sleeping' } : container;
  };

  const upsertOrRemove = (id: string, container: Container | undefined) => {
    const previous = known.get(id);
    if (!container) {
      if (!previous) return;
      known.delete(id);
      emit({ action: 'remove', containerId: id });
      return;
    }
    const json = JSON.stringify(container);
    if (previous?.json === json) return;
    known.set(id, { container, json });
    logLabelProblems(container);
    emit({ action: 'upsert', container });
  };

  /** The master judges the labels; the agent log shows the same problems to whoever reads it. */
  const logLabelProblems = (container: Container) => {
    const { problems } = parseContainerLabels(container.labels, {
      ...labelParseContext(container),
      ...(options.labelPrefixes ? { labelPrefixes: options.labelPrefixes } : {}),
    });
    for (const problem of problems.slice(0, MAX_LOGGED_PROBLEMS)) {
      logger.warn(
        {
          containerName: container.name,
          label: problem.label,
          route: problem.route,
          severity: problem.severity,
        },
        problem.message,
      );
    }
  };

  const handleEvent = async (event: DockerEvent) => {
    const id = event.Type === 'network' ? event.Actor.Attributes?.container : event.Actor.ID;
    if (!id) return;
    if (event.Type === 'container' && event.Action === 'destroy') {
      upsertOrRemove(id, undefined);
      return;
    }
    // Container events carry the labels: skip the inspect for the many containers that are not ours.
    if (event.Type === 'container' && !known.has(id) && !hasTunnelLabels(event.Actor.Attributes, prefixes))
      return;
    if (event.Type === 'network' && !known.has(id)) return;
    let container: Container | undefined;
    try {
      container = await call(() => load(id));
    } catch (error) {
      logger.warn(
        { err: error, containerId: id, action: event.Action },
        'cannot inspect a container; will relist',
      );
      retrySoon();
      return;
    }
    upsertOrRemove(id, container);
  };

  /** After a failed Docker read: relist soon rather than wait for the periodic one. */
  const retrySoon = () => {
    if (retryTimer || stopped) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      enqueue(relist);
    }, retryBackoff.next());
  };

  /** Runs a Docker call and records whether Docker answered. */
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      const result = await fn();
      lastCallOk = true;
      return result;
    } catch (error) {
      lastCallOk = false;
      throw error;
    }
  };

  const listOurs = async (): Promise<Map<string, Container>> => {
    const listed = await call(() => docker.listContainers({ all: true }));
    const current = new Map<string, Container>();
    for (const entry of listed) {
      if (!hasTunnelLabels(entry.Labels, prefixes)) continue;
      const container = await call(() => load(entry.Id));
      if (container) current.set(entry.Id, container);
    }
    return current;
  };

  const resync = async (reason: ResyncReason) => {
    let current: Map<string, Container>;
    try {
      current = await listOurs();
    } catch (error) {
      // Owed to the consumer until a relist succeeds.
      pendingResync = reason;
      logger.warn({ err: error, reason }, 'container relist failed; will retry');
      retrySoon();
      return;
    }
    retryBackoff.reset();
    pendingResync = undefined;
    const previous = new Map(known);
    known.clear();
    for (const [id, container] of current) {
      const json = JSON.stringify(container);
      if (previous.get(id)?.json !== json) logLabelProblems(container);
      known.set(id, { container, json });
    }
    logger.info({ reason, containers: current.size }, 'containers resynchronised');
    if (stopped) return;
    try {
      onResync([...current.values()], reason);
    } catch (error) {
      logger.error({ err: error }, 'container watcher onResync handler failed');
    }
  };

  /** The safety net: applies whatever differs from the current view as ordinary changes. */
  const relist = async () => {
    if (pendingResync) return resync(pendingResync);
    let current: Map<string, Container>;
    try {
      current = await listOurs();
    } catch (error) {
      logger.warn({ err: error }, 'container relist failed; will retry');
      retrySoon();
      return;
    }
    retryBackoff.reset();
    for (const id of [...known.keys()]) if (!current.has(id)) upsertOrRemove(id, undefined);
    for (const [id, container] of current) upsertOrRemove(id, container);
  };

  const subscription = subscribeDockerEvents({
    docker,
    logger,
    filters: { type: ['container', 'network'], event: [...CONTAINER_ACTIONS, ...NETWORK_ACTIONS] },
    reconnect: options.reconnect,
    onConnected: ({ first }) => enqueue(() => resync(first ? 'initial' : 'reconnect')),
    onDisconnected: () => {
      lastCallOk = false;
    },
    onEvent: (event) => enqueue(() => handleEvent(event)),
  });

  const relistTimer = setInterval(() => enqueue(relist), relistIntervalMs);
  relistTimer.unref();

  return {
    get dockerReachable() {
      return subscription.connected && lastCallOk;
    },
    containers() {
      return [...known.values()].map((entry) => entry.container);
    },
    async stop() {
      stopped = true;
      clearInterval(relistTimer);
      if (retryTimer) clearTimeout(retryTimer);
      subscription.stop();
      await mutex.idle('containers');
    },
  };
}
