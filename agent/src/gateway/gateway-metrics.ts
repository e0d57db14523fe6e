import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Route label of requests no route matched. */
export const NO_ROUTE = '(none)';

export interface GatewayMetrics {
  /** A request answered (or cut) after `seconds`, with the status the client was sent. */
  request(route: string, status: number, seconds: number): void;
  /** A wake ended: ready, or the start timeout passed. */
  wake(route: string, ready: boolean, seconds: number): void;
  idleStop(route: string): void;
  /** A mirror copy not sent: too many copies in flight already. */
  mirrorDropped(route: string): void;
  /** Prometheus text exposition. */
  render(): Promise<{ contentType: string; text: string }>;
}

/** A gauge of the process's start (seconds), as `process_start_time_seconds` is elsewhere. */
export const GATEWAY_START_TIME_METRIC = 'tunnelfleet_gateway_start_time_seconds';

/** Buckets from 1 ms to 60 s: a proxied request is milliseconds, a slow backend seconds. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** A container start takes seconds to minutes. */
const WAKE_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

/** `2xx`, `4xx`…: few label values, whatever the backends answer. */
const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;

/**
 * The gateway's Prometheus metrics, per route (the master's route id), in a registry of its own
 * (no process-wide default registry). Served on the API port at `GET /metrics`.
 */
export function createGatewayMetrics(options: {
  unhealthyBackends: () => number;
  now?: () => number;
}): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[]) =>
    new Counter({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, buckets: number[]) =>
    new Histogram({ name, help, labelNames: ['route'], buckets, registers });
  const requests = counter(
    'tunnelfleet_gateway_requests_total',
    'Requests answered, by route and status class.',
    ['route', 'status_class'],
  );
  const duration = histogram(
    'tunnelfleet_gateway_request_duration_seconds',
    'Time from the request to the end of its response, by route.',
    REQUEST_BUCKETS,
  );
  const wakes = counter(
    'tunnelfleet_gateway_wakes_total',
    'Wakes of sleeping containers, by route and result (ready or timeout).',
    ['route', 'result'],
  );
  const wakeDuration = histogram(
    'tunnelfleet_gateway_wake_duration_seconds',
    'Time from the wake request to the container answering its readiness probe, by route.',
    WAKE_BUCKETS,
  );
  const idleStops = counter(
    'tunnelfleet_gateway_idle_stops_total',
    'Containers stopped after their idle timeout, by route.',
    ['route'],
  );
  const mirrorDropped = counter(
    'tunnelfleet_gateway_mirror_dropped_total',
    'Mirror copies not sent because too many were in flight, by route.',
    ['route'],
  );
  // The counters count from here: a reader that sees another value knows they began again at zero.
  new Gauge({
    name: GATEWAY_START_TIME_METRIC,
    help: 'When this gateway process started, in seconds since the epoch.',
    registers,
  }).set((options.now ?? Date.now)() / 1000);
  new Gauge({
    name: 'tunnelfleet_gateway_unhealthy_backends',
    help: 'Group members taken out after a failure, until a probe succeeds.',
    registers,
    collect() {
      this.set(options.unhealthyBackends());
    },
  });
  return {
    request(route, status, seconds) {
      requests.inc({ route, status_class: statusClass(status) });
      duration.observe({ route }, seconds);
    },
    wake(route, ready, seconds) {
      wakes.inc({ route, result: ready ? 'ready' : 'timeout' });
      if (ready) wakeDuration.observe({ route }, seconds);
    },
    idleStop: (route) => idleStops.inc({ route }),
    mirrorDropped: (route) => mirrorDropped.inc({ route }),
    async render() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}
