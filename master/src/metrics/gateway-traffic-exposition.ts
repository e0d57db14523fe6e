import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { GATEWAY_STATUS_CLASSES, GATEWAY_TRAFFIC_LATENCY_BUCKETS } from '@tunnelfleet/common';
import type { RouteTraffic } from '../gateway/gateway-traffic.js';

/** Routes written between two yields to the event loop: heartbeats go on during a large scrape. */
const ROUTES_PER_SLICE = 1_000;

/** A label value in the text format: backslash, line feed and double quote escaped. */
const labelValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/**
 * The hosts' gateways' per-route series in Prometheus' text format, under the gateway's own metric
 * names, labelled `agent`, `hostname` and `route` (docs/gateway.md, Metrics at the master). Written
 * here rather than through prom-client: a large fleet's gateway routes are hundreds of thousands of
 * series, and prom-client's per-series label handling made a scrape of 19,000 routes take seconds
 * (bench/RESULTS.md); here each route's labels are formatted once.
 */
export async function gatewayTrafficExposition(routes: readonly RouteTraffic[]): Promise<string> {
  const lines: string[] = [];
  const family = (name: string, type: 'counter' | 'histogram', help: string) =>
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const labels = routes.map(
    (traffic) =>
      `agent="${labelValue(traffic.agentId)}",hostname="${labelValue(traffic.hostname)}",route="${traffic.routeId}"`,
  );
  const each = async (write: (traffic: RouteTraffic, labels: string) => void) => {
    for (const [i, traffic] of routes.entries()) {
      write(traffic, labels[i]!);
      if (i % ROUTES_PER_SLICE === ROUTES_PER_SLICE - 1) await yieldToEvents();
    }
  };

  const requests = 'tunnelfleet_gateway_requests_total';
  family(requests, 'counter', "Requests a host's gateway answered, by route and status class");
  await each(({ totals }, route) =>
    GATEWAY_STATUS_CLASSES.forEach((statusClass, i) => {
      // Only the classes a route answered: a route costs the series it uses.
      const count = totals.requests[i] ?? 0;
      if (count > 0) lines.push(`${requests}{${route},status_class="${statusClass}"} ${count}`);
    }),
  );

  const histogram = (
    name: string,
    bounds: readonly number[],
    read: (traffic: RouteTraffic) => { buckets: readonly number[]; sum: number; count: number },
  ) =>
    each((traffic, route) => {
      const { buckets, sum, count } = read(traffic);
      for (const [i, le] of bounds.entries())
        lines.push(`${name}_bucket{${route},le="${le}"} ${buckets[i] ?? 0}`);
      lines.push(
        `${name}_bucket{${route},le="+Inf"} ${count}`,
        `${name}_sum{${route}} ${sum}`,
        `${name}_count{${route}} ${count}`,
      );
    });
  const duration = 'tunnelfleet_gateway_request_duration_seconds';
  family(
    duration,
    'histogram',
    "Time from a request to the end of its response in a host's gateway, by route",
  );
  await histogram(duration, GATEWAY_TRAFFIC_LATENCY_BUCKETS, ({ totals }) => ({
    buckets: totals.latency.buckets,
    sum: totals.latency.sum,
    count: totals.requests.reduce((sum, n) => sum + n, 0),
  }));

  const wakes = 'tunnelfleet_gateway_wakes_total';
  family(
    wakes,
    'counter',
    'Wakes of sleeping containers by a gateway, by route and result (ready or timeout)',
  );
  await each(({ totals }, route) =>
    lines.push(
      `${wakes}{${route},result="ready"} ${totals.wakes}`,
      `${wakes}{${route},result="timeout"} ${totals.wakeTimeouts}`,
    ),
  );

  const wakeDuration = 'tunnelfleet_gateway_wake_duration_seconds';
  family(
    wakeDuration,
    'histogram',
    'Time from a wake request to the container answering its readiness probe, by route (sum and count)',
  );
  await histogram(wakeDuration, [], ({ totals }) => ({
    buckets: [],
    sum: totals.wakeSeconds,
    count: totals.wakes,
  }));

  const idleStops = 'tunnelfleet_gateway_idle_stops_total';
  family(idleStops, 'counter', 'Containers a gateway had stopped after their idle timeout, by route');
  await each(({ totals }, route) => lines.push(`${idleStops}{${route}} ${totals.idleStops}`));

  return `${lines.join('\n')}\n`;
}
