import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MasterBusyError } from '@tunnelfleet/common';
import type { RequestHandler } from 'express';

/** How loaded the master is now; `startMaster` measures its event loop, tests force a value. */
export interface LoadProbe {
  /** Event-loop delay (ms, p99) over the last sampling window. */
  eventLoopDelayMs(): number;
  stop(): void;
}

/** How often the event-loop delay histogram is read and reset: the window the probe reports. */
const SAMPLE_WINDOW_MS = 1_000;

/**
 * The event loop's delay from `perf_hooks.monitorEventLoopDelay`: the p99 of the last full
 * window, so one slow tick long ago does not keep refusing registrations.
 */
export function createEventLoopProbe(): LoadProbe {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let lastMs = 0;
  const timer = setInterval(() => {
    lastMs = histogram.count === 0 ? 0 : histogram.percentile(99) / 1e6;
    histogram.reset();
  }, SAMPLE_WINDOW_MS);
  timer.unref();
  return {
    eventLoopDelayMs: () => lastMs,
    stop() {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

export interface AdmissionSettings {
  /** `ADMISSION_MAX_EVENT_LOOP_DELAY_MS`: above it new hosts are asked to come back (0: never). */
  maxEventLoopDelayMs: number;
  /** `ADMISSION_MAX_REGISTRATIONS`: registrations (and first snapshots) answered at once. */
  maxInFlight: number;
  /** `ADMISSION_RETRY_AFTER_SECONDS`: the Retry-After given, jittered up to twice as long. */
  retryAfterSeconds: number;
}

export interface AdmissionControl {
  /**
   * Middleware for the requests of enrolment (a registration, a host's first snapshot): refused
   * with `503 master_busy` and a jittered Retry-After while the master is overloaded.
   */
  admit: RequestHandler;
  /** Requests refused so far (`/metrics`). */
  refused(): number;
}

/**
 * Admission control: a fleet enrolling at once waits outside the master (each agent retries
 * after Retry-After) instead of in its accept queue, where it would time out the heartbeats and
 * long-polls of the hosts already enrolled too. Those never pass through here: they keep priority.
 */
export function createAdmissionControl(
  settings: AdmissionSettings,
  deps: { probe: LoadProbe; random?: () => number },
): AdmissionControl {
  const random = deps.random ?? Math.random;
  let inFlight = 0;
  let refused = 0;

  function overloaded(): boolean {
    if (inFlight >= settings.maxInFlight) return true;
    return settings.maxEventLoopDelayMs > 0 && deps.probe.eventLoopDelayMs() > settings.maxEventLoopDelayMs;
  }

  const admit: RequestHandler = (_req, res, next) => {
    if (overloaded()) {
      refused += 1;
      // Jittered, so the refused agents do not all come back in the same second.
      throw new MasterBusyError(
        settings.retryAfterSeconds * (1 + random()),
        'the master is enrolling other hosts: retry after Retry-After',
      );
    }
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
    });
    next();
  };
  return { admit, refused: () => refused };
}
