import {
  GATEWAY_STATUS_CLASSES,
  GATEWAY_TRAFFIC_LATENCY_BUCKETS,
  type GatewayRouteTraffic,
  type GatewayTraffic,
  gatewayRouteTrafficSchema,
  type Logger,
  PROTOCOL_LIMITS,
} from '@tunnelfleet/common';
import { GATEWAY_START_TIME_METRIC } from '../gateway/gateway-metrics.js';

const SAMPLE = /^([a-z_]+)(?:\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})? (\S+)$/;
const LABEL = /([a-z_]+)="((?:[^"\\]|\\.)*)"/g;
const PREFIX = 'tunnelfleet_gateway_';

const unescapeLabel = (value: string) => value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

const emptyTraffic = (route: string): GatewayRouteTraffic => ({
  route,
  requests: [0, 0, 0, 0, 0],
  latency: { sum: 0, buckets: GATEWAY_TRAFFIC_LATENCY_BUCKETS.map(() => 0) },
  wakes: 0,
  wakeSeconds: 0,
  wakeTimeouts: 0,
  idleStops: 0,
});

/**
 * The per-route totals in the gateway's Prometheus text (`GET /metrics`): requests by status class,
 * the latency histogram's sum and the buckets the master exposes, wakes, wake seconds and idle
 * stops. Routes no route id names (`(none)`) and totals that fail the protocol's schema are left
 * out. Undefined without the gateway's start time (not a gateway's text).
 */
export function readGatewayTraffic(
  text: string,
): { startedAt: number; routes: GatewayRouteTraffic[] } | undefined {
  let startedAt: number | undefined;
  const routes = new Map<string, GatewayRouteTraffic>();
  for (const line of text.split('\n')) {
    const sample = SAMPLE.exec(line);
    if (!sample?.[1]?.startsWith(PREFIX)) continue;
    const [, name, labelText = '', valueText] = sample;
    const value = Number(valueText);
    if (!Number.isFinite(value)) continue;
    if (name === GATEWAY_START_TIME_METRIC) {
      startedAt = Math.round(value * 1000);
      continue;
    }
    const labels = new Map([...labelText.matchAll(LABEL)].map(([, key, v]) => [key, unescapeLabel(v ?? '')]));
    const id = labels.get('route');
    if (id === undefined) continue;
    const at = () => {
      const traffic = routes.get(id) ?? emptyTraffic(id);
      routes.set(id, traffic);
      return traffic;
    };
    switch (name.slice(PREFIX.length)) {
      case 'requests_total': {
        const index = GATEWAY_STATUS_CLASSES.indexOf(labels.get('status_class') as '2xx');
        if (index >= 0) at().requests[index] = value;
        break;
      }
      case 'request_duration_seconds_bucket': {
        const index = GATEWAY_TRAFFIC_LATENCY_BUCKETS.indexOf(Number(labels.get('le')) as 0.005);
        if (index >= 0) at().latency.buckets[index] = value;
        break;
      }
      case 'request_duration_seconds_sum':
        at().latency.sum = value;
        break;
      case 'wakes_total':
        if (labels.get('result') === 'ready') at().wakes = value;
        else if (labels.get('result') === 'timeout') at().wakeTimeouts = value;
        break;
      case 'wake_duration_seconds_sum':
        at().wakeSeconds = value;
        break;
      case 'idle_stops_total':
        at().idleStops = value;
        break;
    }
  }
  if (startedAt === undefined) return undefined;
  return {
    startedAt,
    routes: [...routes.values()].filter((traffic) => gatewayRouteTrafficSchema.safeParse(traffic).success),
  };
}

export interface GatewayTrafficFeed {
  /**
   * The routes for the next heartbeat: those whose numbers changed since the master last took
   * them, then any not sent for `resendAfterMs`, at most `PROTOCOL_LIMITS.gatewayTrafficRoutes`;
   * undefined when none. Reads the gateway again meanwhile, for the heartbeat after.
   */
  next(): GatewayTraffic | undefined;
  /** The master took a heartbeat carrying `traffic`. */
  sent(traffic: GatewayTraffic): void;
  /** Waits for a read in flight. */
  settled(): Promise<void>;
}

/** Every route's numbers are sent again at least this often: a restarted master has them back. */
const DEFAULT_RESEND_AFTER_MS = 10 * 60_000;

/**
 * Forwards what the host's gateway counts per route to the master with the heartbeats, at their
 * cadence and only as it changes: an idle host's heartbeat carries nothing more, a busy one's at
 * most a hundred routes.
 */
export function createGatewayTrafficFeed(options: {
  /** The gateway's `/metrics` text; undefined while no gateway is ready. */
  read(): Promise<string | undefined>;
  logger: Logger;
  resendAfterMs?: number;
  now?: () => number;
}): GatewayTrafficFeed {
  const now = options.now ?? Date.now;
  const resendAfterMs = options.resendAfterMs ?? DEFAULT_RESEND_AFTER_MS;
  let latest: { startedAt: number; routes: { traffic: GatewayRouteTraffic; key: string }[] } | undefined;
  /** What the master took of each route (its key: start and numbers), and when. */
  const taken = new Map<string, { key: string; at: number }>();
  let reading: Promise<void> | undefined;

  const refresh = () => {
    reading ??= options
      .read()
      .then((text) => {
        const read = text === undefined ? undefined : readGatewayTraffic(text);
        latest = read && {
          startedAt: read.startedAt,
          routes: read.routes.map((traffic) => ({
            traffic,
            key: `${read.startedAt} ${JSON.stringify(traffic)}`,
          })),
        };
        // Routes the gateway no longer counts (a new process, a route removed) are not kept.
        const live = new Set(latest?.routes.map(({ traffic }) => traffic.route));
        for (const route of taken.keys()) if (!live.has(route)) taken.delete(route);
      })
      .catch((error: unknown) => options.logger.debug({ err: error }, "cannot read the gateway's metrics"))
      .finally(() => {
        reading = undefined;
      });
  };

  return {
    next() {
      const current = latest;
      refresh();
      if (!current) return undefined;
      const at = now();
      const due = current.routes.flatMap(({ traffic, key }) => {
        const last = taken.get(traffic.route);
        if (last?.key === key && at - last.at < resendAfterMs) return [];
        // Changed first (never taken counts as changed), then the longest untaken.
        return [{ traffic, changed: last?.key !== key, since: last?.at ?? 0 }];
      });
      if (due.length === 0) return undefined;
      due.sort((x, y) => Number(y.changed) - Number(x.changed) || x.since - y.since);
      return {
        startedAt: current.startedAt,
        routes: due.slice(0, PROTOCOL_LIMITS.gatewayTrafficRoutes).map(({ traffic }) => traffic),
      };
    },
    sent(traffic) {
      const at = now();
      for (const route of traffic.routes)
        taken.set(route.route, { key: `${traffic.startedAt} ${JSON.stringify(route)}`, at });
    },
    async settled() {
      await reading;
    },
  };
}
