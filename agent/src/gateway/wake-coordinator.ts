import type { GatewayRoute, Logger } from '@tunnelfleet/common';
import type { GatewayMetrics } from './gateway-metrics.js';
import { probeBackend } from './readiness-probe.js';

/** After the agent reports the start, the backend is probed this often for this long, then every 500 ms. */
const FAST_PROBE_INTERVAL_MS = 50;
const FAST_PROBE_FOR_MS = 3_000;

export type WakeState = 'unknown' | 'sleeping' | 'starting' | 'running' | 'failed';

/** What the agent is asked to start: the container after its dependencies, ready within the timeout. */
export interface StartRequest {
  container: string;
  dependsOn: string[];
  startTimeoutMs: number;
}

export interface WakeRequests {
  /** Give this back as `after` to wait for the next ones. */
  seq: number;
  start: StartRequest[];
  /** Containers idle longer than their route's idle timeout: the agent stops them. */
  stop: string[];
}

export interface WakeCoordinator {
  /** Starts a wake unless one runs (single flight); resolves true once ready, false at the timeout. */
  wake(route: GatewayRoute): Promise<boolean>;
  /** True if the backend answers now; marks the route running if so. */
  isAwake(route: GatewayRoute): Promise<boolean>;
  state(routeId: string): WakeState;
  /** Why the last wake failed before its timeout (a dependency that did not become ready…). */
  failure(routeId: string): string | undefined;
  /** The container's last log lines, as the agent last sent them. */
  logs(container: string): string[];
  /** `failure`: the agent gave up waking `container`; its wakes in flight fail now, saying why. */
  setLogs(container: string, lines: string[], failure?: string): void;
  /** A request for the route arrived: its idle clock starts again. */
  touch(route: GatewayRoute): void;
  /**
   * The agent stopped the container for a reason of its own (a stop schedule): its routes are
   * `sleeping`, so the next request wakes it instead of finding the backend gone.
   */
  slept(container: string): number;
  /** The backend refused a connection: the next request probes it again. */
  lost(routeId: string): void;
  /** Long-poll of the agent: answers at once if a start is pending past `after`, else within `waitMs`. */
  takeRequests(after: number, waitMs: number): Promise<WakeRequests>;
  close(): void;
}

interface WakeRecord {
  state: WakeState;
  /** The wake in progress, shared by every request that arrives during it. */
  running?: Promise<boolean>;
  /** The agent's reason for giving up the wake in flight (or the last one). */
  failure?: string;
  /** When the agent first reported the container started during this wake (its first log push). */
  startReportedAt?: number;
  /** Ends the wait between two probes early: the agent has news. */
  kick?: () => void;
  lastRequestAt: number;
  route: GatewayRoute;
}

/**
 * Wake state of every waking route. The gateway never touches Docker: it queues start requests
 * that the agent collects by long-poll (the agent dials, the gateway needs no way to the agent),
 * and it probes readiness itself.
 */
export function createWakeCoordinator(options: {
  logger: Logger;
  metrics?: Pick<GatewayMetrics, 'wake' | 'idleStop'>;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  now?: () => number;
}): WakeCoordinator {
  const logger = options.logger.child({ component: 'wake' });
  const probeIntervalMs = options.probeIntervalMs ?? 500;
  const probeTimeoutMs = options.probeTimeoutMs ?? 400;
  const now = options.now ?? Date.now;
  const records = new Map<string, WakeRecord>();
  const logLines = new Map<string, string[]>();
  /** Start requests by sequence number; the agent acknowledges by asking past them. */
  const queue: { seq: number; request: StartRequest }[] = [];
  let seq = 0;
  let waiters: (() => void)[] = [];
  let closed = false;

  const record = (route: GatewayRoute): WakeRecord => {
    let found = records.get(route.id);
    if (!found) {
      found = { state: 'unknown', lastRequestAt: now(), route };
      records.set(route.id, found);
    }
    found.route = route;
    return found;
  };

  const notify = () => {
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };

  const waitReady = async (item: WakeRecord, route: GatewayRoute, deadline: number): Promise<boolean> => {
    while (!closed && now() < deadline && item.failure === undefined) {
      if (await probeBackend(route, probeTimeoutMs)) return true;
      // Just started, a container usually listens within moments: probing every 500 ms then would
      // add up to 500 ms to every wake, so the first seconds after the start are probed closely.
      const fast = item.startReportedAt !== undefined && now() - item.startReportedAt < FAST_PROBE_FOR_MS;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, fast ? FAST_PROBE_INTERVAL_MS : probeIntervalMs);
        item.kick = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      item.kick = undefined;
    }
    return false;
  };

  const isIdle = (item: WakeRecord) => {
    const timeout = item.route.wake?.idleTimeoutMs ?? 0;
    return item.state === 'running' && timeout > 0 && now() - item.lastRequestAt >= timeout;
  };

  /** Hands out each idle container once: its route is `sleeping` from then on. */
  const idleContainers = (): string[] => {
    const idle: string[] = [];
    for (const item of records.values()) {
      if (!isIdle(item)) continue;
      item.state = 'sleeping';
      logger.info({ route: item.route.id, container: item.route.wake?.container }, 'idle: stopping');
      options.metrics?.idleStop(item.route.id);
      idle.push(item.route.wake!.container);
    }
    return idle;
  };

  // An idle route ends the agent's long-poll early, so the stop does not wait for the poll's end.
  const idleTicker = setInterval(() => {
    if ([...records.values()].some(isIdle)) notify();
  }, 1_000);
  idleTicker.unref();

  return {
    wake(route) {
      const item = record(route);
      if (item.running) return item.running;
      // A request whose own probe failed just before the container came up joins no second start.
      if (item.state === 'running') return Promise.resolve(true);
      const wake = route.wake!;
      item.state = 'starting';
      item.failure = undefined;
      item.startReportedAt = undefined;
      seq += 1;
      queue.push({
        seq,
        request: {
          container: wake.container,
          dependsOn: wake.dependsOn,
          startTimeoutMs: wake.startTimeoutMs,
        },
      });
      logger.info({ route: route.id, container: wake.container }, 'waking');
      notify();
      const started = now();
      const deadline = started + wake.startTimeoutMs;
      item.running = waitReady(item, route, deadline).then((ready) => {
        options.metrics?.wake(route.id, ready, (now() - started) / 1_000);
        item.state = ready ? 'running' : 'failed';
        item.lastRequestAt = now();
        item.running = undefined;
        if (ready) logger.info({ route: route.id }, 'awake');
        else logger.warn({ route: route.id, reason: item.failure ?? 'start timed out' }, 'wake failed');
        return ready;
      });
      return item.running;
    },
    async isAwake(route) {
      const item = record(route);
      if (item.state === 'running') return true;
      if (item.running) return false;
      const ready = await probeBackend(route, probeTimeoutMs);
      if (ready && !item.running) item.state = 'running';
      return ready;
    },
    state: (routeId) => records.get(routeId)?.state ?? 'unknown',
    failure: (routeId) => records.get(routeId)?.failure,
    logs: (container) => logLines.get(container) ?? [],
    setLogs(container, lines, failure) {
      logLines.set(container, lines);
      for (const item of records.values()) {
        if (!item.running || item.route.wake?.container !== container) continue;
        // The agent pushes the lines once it has started the container, or to say it could not.
        if (failure !== undefined) item.failure = failure;
        else if (item.startReportedAt === undefined) item.startReportedAt = now();
        else continue;
        item.kick?.();
      }
    },
    touch(route) {
      record(route).lastRequestAt = now();
    },
    slept(container) {
      let routes = 0;
      for (const item of records.values()) {
        if (item.route.wake?.container !== container || item.running) continue;
        item.state = 'sleeping';
        routes += 1;
      }
      return routes;
    },
    lost(routeId) {
      const item = records.get(routeId);
      if (item && item.state === 'running') item.state = 'unknown';
    },
    async takeRequests(after, waitMs) {
      const pending = () => queue.filter((entry) => entry.seq > after);
      // Entries the agent has acknowledged (asked past) are dropped.
      while (queue.length > 0 && queue[0]!.seq <= after) queue.shift();
      if (pending().length === 0 && waitMs > 0 && !closed) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return { seq, start: pending().map((entry) => entry.request), stop: idleContainers() };
    },
    close() {
      closed = true;
      clearInterval(idleTicker);
      notify();
    },
  };
}
