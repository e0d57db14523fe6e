import { z } from 'zod';
import { PROTOCOL_LIMITS } from './limits.js';
import { counterSchema, identifierSchema } from './primitives.js';

/** The status classes the gateway counts requests by, in the order of `requests`. */
export const GATEWAY_STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * Upper bounds (seconds) of the latency buckets an agent forwards: a subset of the gateway's own
 * histogram buckets (`agent/src/gateway/gateway-metrics.ts`), so each is an exact cumulative count,
 * and few, so that a route costs the master's `/metrics` a handful of series.
 */
export const GATEWAY_TRAFFIC_LATENCY_BUCKETS = [0.005, 0.025, 0.1, 0.5, 2.5, 10] as const;

/** A sum of seconds: finite, not negative (a century of request time is far beyond any real sum). */
const secondsSchema = z.number().min(0).max(3.2e9);

/**
 * One route's totals since its gateway started (counters, as the gateway's `/metrics` has them).
 * The latency histogram's count is the sum of `requests` (every request answered is timed).
 */
export const gatewayRouteTrafficSchema = z
  .strictObject({
    /** The gateway route id, as the master named it in `set_gateway_routes` (`route-<id>`). */
    route: identifierSchema,
    /** Requests answered, by status class (`GATEWAY_STATUS_CLASSES`). */
    requests: z.tuple([counterSchema, counterSchema, counterSchema, counterSchema, counterSchema]),
    latency: z.strictObject({
      /** Seconds of all requests together. */
      sum: secondsSchema,
      /** Requests that took at most each of `GATEWAY_TRAFFIC_LATENCY_BUCKETS`, cumulative. */
      buckets: z.array(counterSchema).length(GATEWAY_TRAFFIC_LATENCY_BUCKETS.length),
    }),
    /** Wakes that ended ready, and their seconds together. */
    wakes: counterSchema,
    wakeSeconds: secondsSchema,
    /** Wakes that ran out of time. */
    wakeTimeouts: counterSchema,
    idleStops: counterSchema,
  })
  .superRefine((traffic, ctx) => {
    const total = traffic.requests.reduce((sum, n) => sum + n, 0);
    const { buckets } = traffic.latency;
    if (buckets.some((n, i) => (i > 0 && n < buckets[i - 1]!) || n > total))
      ctx.addIssue({
        code: 'custom',
        path: ['latency', 'buckets'],
        message: 'cumulative bucket counts must not decrease nor exceed the requests counted',
      });
  });
export type GatewayRouteTraffic = z.infer<typeof gatewayRouteTrafficSchema>;

/**
 * What the host's gateway counted per route (docs/gateway.md, Metrics), in a heartbeat: only the
 * routes whose numbers changed since the last heartbeat the master took (and each now and then
 * again, for a master that restarted), so an idle host sends nothing.
 */
export const gatewayTrafficSchema = z.strictObject({
  /**
   * When the gateway process started (ms since the epoch): its counters count from then. Another
   * value is another process (restarted or replaced), whose counters began again at zero.
   */
  startedAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  routes: z.array(gatewayRouteTrafficSchema).max(PROTOCOL_LIMITS.gatewayTrafficRoutes),
});
export type GatewayTraffic = z.infer<typeof gatewayTrafficSchema>;
