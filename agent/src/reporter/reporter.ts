import {
  type Container,
  type ContainerChange,
  createReportSequencer,
  type HeartbeatRequest,
  type Logger,
  type Report,
  snapshotFingerprint,
} from '@tunnelfleet/common';
import {
  createRetryDelay,
  MasterBusyError,
  type MasterClient,
  type MasterLink,
  MasterRateLimitedError,
  pause,
  type RetryDelayOptions,
} from '../master-client/index.js';

interface ReporterOptions {
  client: MasterClient;
  link: MasterLink;
  logger: Logger;
  /** Heartbeat interval until the master names its own. */
  intervalSeconds: number;
  /** A full snapshot every this many heartbeats, as a safety net. */
  snapshotEveryHeartbeats?: number;
  /** The Docker watcher's current view of our containers. */
  containers(): Container[];
  /** What the heartbeat says about this host. */
  hostStatus(): Omit<HeartbeatRequest, 'agentId' | 'uptimeSeconds'>;
  /** The master took this heartbeat (what it carried once need not be sent again). */
  heartbeatTaken?(heartbeat: HeartbeatRequest): void;
  retry?: RetryDelayOptions;
  now?: () => number;
}

type SnapshotReason = 'start' | 'docker-resync' | 'master-reconnect' | 'periodic' | 'requested';

interface Reporter {
  /** Begins heartbeats and reports once the agent id is known. */
  start(agentId: string): void;
  /** From the Docker watcher: one container changed. */
  containerChanged(change: ContainerChange): void;
  /** From the Docker watcher: a full list after (re)connecting to Docker. */
  resynced(): void;
  requestSnapshot(reason: SnapshotReason): void;
  stop(): Promise<void>;
}

const DEFAULT_SNAPSHOT_EVERY_HEARTBEATS = 10;
/** Idle wait of the report worker when nothing is queued (it is woken on every change). */
const IDLE_WAIT_MS = 3_600_000;

/**
 * Keeps the master's view of this host current: heartbeats, each container change at once, and
 * full snapshots (at start, after Docker or master reconnects, periodically and on request).
 * While the master cannot be reached nothing piles up: queued events are dropped and one snapshot,
 * taken when it answers again, replaces them all.
 */
export function createReporter(options: ReporterOptions): Reporter {
  const { client, link } = options;
  const logger = options.logger.child({ component: 'reporter' });
  const now = options.now ?? Date.now;
  const snapshotEvery = options.snapshotEveryHeartbeats ?? DEFAULT_SNAPSHOT_EVERY_HEARTBEATS;
  const nextSequence = createReportSequencer(now);
  const startedAt = now();
  const abort = new AbortController();
  let agentId: string | undefined;
  let intervalSeconds = options.intervalSeconds;

  /** A snapshot is owed and its container list not yet taken: changes until then are in it. */
  let snapshotOwed = true;
  /** Docker has been listed at least once: before that the view is empty, not "no containers". */
  let dockerSynced = false;
  let sendingSnapshot = false;
  let events: ContainerChange[] = [];
  let wakeWorker = () => {};
  let running: Promise<unknown> = Promise.resolve();

  const requestSnapshot = (reason: SnapshotReason) => {
    if (!snapshotOwed) logger.debug({ reason }, 'snapshot requested');
    snapshotOwed = true;
    events = [];
    wakeWorker();
  };

  const unsubscribe = link.subscribe({
    // The snapshot that brought the link back is the catch-up already.
    onReconnected: () => {
      if (!sendingSnapshot) requestSnapshot('master-reconnect');
    },
  });

  const base = () => ({
    agentId: agentId as string,
    sequence: nextSequence(),
    observedAt: new Date(now()).toISOString(),
  });

  const sendNext = async () => {
    if (snapshotOwed) {
      const containers = options.containers();
      snapshotOwed = false;
      events = [];
      sendingSnapshot = true;
      const report: Report = {
        ...base(),
        kind: 'snapshot',
        fingerprint: snapshotFingerprint(containers),
        containers,
      };
      try {
        const reply = await client.report(report);
        logger.debug({ containers: containers.length, status: reply.status }, 'snapshot sent');
      } catch (error) {
        snapshotOwed = true;
        events = [];
        throw error;
      } finally {
        sendingSnapshot = false;
      }
      return;
    }
    const change = events[0];
    if (!change) return;
    try {
      await client.report({ ...base(), kind: 'event', change });
      events.shift();
    } catch (error) {
      // Coalesce: the snapshot sent once the master answers again covers this and later changes.
      snapshotOwed = true;
      events = [];
      throw error;
    }
  };

  const reportWorker = async (retry = createRetryDelay(options.retry)) => {
    while (!abort.signal.aborted) {
      const ready = snapshotOwed ? dockerSynced : events.length > 0;
      if (!ready) {
        const wait = pause(IDLE_WAIT_MS, abort.signal);
        wakeWorker = wait.wake;
        await wait.done;
        continue;
      }
      try {
        await sendNext();
        retry.reset();
      } catch (error) {
        if (abort.signal.aborted) break;
        const delayMs = retry.next(error);
        const wait = pause(delayMs, abort.signal);
        if (error instanceof MasterRateLimitedError || error instanceof MasterBusyError) {
          // Changes meanwhile must not wake the worker before Retry-After: the snapshot owed now,
          // taken when the wait ends, carries them all.
          logger.info(
            { retryAfterMs: delayMs, code: error.code },
            'master asked us to wait; one snapshot follows',
          );
          wakeWorker = () => {};
        } else {
          logger.debug({ err: error }, 'report failed; a snapshot will follow');
          wakeWorker = wait.wake;
        }
        await wait.done;
      }
    }
  };

  const heartbeatLoop = async (retry = createRetryDelay(options.retry)) => {
    let beats = 0;
    while (!abort.signal.aborted) {
      let delayMs = intervalSeconds * 1000;
      try {
        const heartbeat: HeartbeatRequest = {
          agentId: agentId as string,
          uptimeSeconds: Math.max(0, Math.floor((now() - startedAt) / 1000)),
          ...options.hostStatus(),
        };
        const reply = await client.heartbeat(heartbeat);
        options.heartbeatTaken?.(heartbeat);
        retry.reset();
        intervalSeconds = reply.reportIntervalSeconds;
        delayMs = intervalSeconds * 1000;
        beats += 1;
        if (reply.snapshotRequested) requestSnapshot('requested');
        else if (beats % snapshotEvery === 0) requestSnapshot('periodic');
      } catch (error) {
        if (abort.signal.aborted) break;
        logger.debug({ err: error }, 'heartbeat failed');
        // A rejected key is retried at its own slow pace, never faster than the interval.
        delayMs = Math.max(delayMs, retry.next(error));
      }
      await pause(delayMs, abort.signal).done;
    }
  };

  return {
    start(id) {
      agentId = id;
      running = Promise.all([reportWorker(), heartbeatLoop()]);
    },
    containerChanged(change) {
      // Before the agent id is known, or with a snapshot owed, the snapshot will carry it.
      if (snapshotOwed) return;
      events.push(change);
      wakeWorker();
    },
    resynced() {
      dockerSynced = true;
      requestSnapshot('docker-resync');
    },
    requestSnapshot,
    async stop() {
      abort.abort();
      unsubscribe();
      await running;
    },
  };
}
