import type { GatewayRouteTraffic, GatewayTraffic, Logger } from '@tunnelfleet/common';
import type { SqliteDatabase } from '../store/database.js';
import { routeHostnames } from '../store/routes.js';
import { routeIdOfGatewayRoute } from './gateway-route.js';

/** A route's totals as the master exposes them: the gateway's, minus the route id. */
export type TrafficTotals = Omit<GatewayRouteTraffic, 'route'>;

/** One route's traffic: whose gateway counted it, for which hostname, and the totals. */
export interface RouteTraffic {
  routeId: number;
  agentId: string;
  hostname: string;
  totals: TrafficTotals;
  /** When its agent last sent its numbers. */
  reportedAt: string;
}

interface Entry extends RouteTraffic {
  /** The gateway process the last numbers came from (its start), and those numbers. */
  startedAt: number;
  counted: TrafficTotals;
  /** What earlier gateway processes counted: added, so that the totals never go down. */
  before: TrafficTotals;
}

const zero = (): TrafficTotals => ({
  requests: [0, 0, 0, 0, 0],
  latency: { sum: 0, buckets: [0, 0, 0, 0, 0, 0] },
  wakes: 0,
  wakeSeconds: 0,
  wakeTimeouts: 0,
  idleStops: 0,
});

/** Each number of `a` and `b` paired by `pair` (sums, or "went down"). */
function zip<T>(a: TrafficTotals, b: TrafficTotals, pair: (x: number, y: number) => T) {
  return {
    requests: a.requests.map((x, i) => pair(x, b.requests[i]!)),
    latency: {
      sum: pair(a.latency.sum, b.latency.sum),
      buckets: a.latency.buckets.map((x, i) => pair(x, b.latency.buckets[i]!)),
    },
    wakes: pair(a.wakes, b.wakes),
    wakeSeconds: pair(a.wakeSeconds, b.wakeSeconds),
    wakeTimeouts: pair(a.wakeTimeouts, b.wakeTimeouts),
    idleStops: pair(a.idleStops, b.idleStops),
  };
}

const add = (a: TrafficTotals, b: TrafficTotals) => zip(a, b, (x, y) => x + y) as TrafficTotals;

/** Some number is below the last one: the counters began again (a restarted gateway). */
function wentDown(now: TrafficTotals, last: TrafficTotals): boolean {
  const pairs = zip(now, last, (x, y) => x < y);
  return (
    [...pairs.requests, pairs.latency.sum, ...pairs.latency.buckets, pairs.wakes].some(Boolean) ||
    pairs.wakeSeconds ||
    pairs.wakeTimeouts ||
    pairs.idleStops
  );
}

export type GatewayTrafficBook = ReturnType<typeof createGatewayTrafficBook>;

/**
 * What each host's gateway counted per route, as the agents forward it with their heartbeats
 * (`gatewayTraffic`), kept in the master's memory for `/metrics` and the route view. An agent
 * speaks only for its own routes: numbers for a route of another agent, or for none, are ignored.
 * Totals never go down while the master runs: when a gateway restarts (another `startedAt`, or a
 * number lower than before), what the previous process counted is carried over. A restarted master
 * starts from what the gateways count now (Prometheus reads it as a counter reset), and agents send
 * every route again within ten minutes.
 */
export function createGatewayTrafficBook(deps: { db: SqliteDatabase; logger: Logger; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  const entries = new Map<number, Entry>();

  /** Takes an agent's numbers; O(routes in it). Returns how many it took and ignored. */
  function note(agentId: string, traffic: GatewayTraffic): { taken: number; ignored: number } {
    const named = traffic.routes.flatMap((route) => {
      const routeId = routeIdOfGatewayRoute(route.route);
      return routeId === undefined ? [] : [{ routeId, route }];
    });
    const own = routeHostnames(
      deps.db,
      named.map(({ routeId }) => routeId),
      agentId,
    );
    const reportedAt = now().toISOString();
    let taken = 0;
    for (const { routeId, route } of named) {
      const hostname = own.get(routeId)?.hostname;
      if (!hostname) continue;
      const { route: _id, ...counted } = route;
      const last = entries.get(routeId);
      // Another agent's entry cannot be here (routes never change agent), but never merge one.
      const carried =
        last && last.agentId === agentId
          ? last.startedAt !== traffic.startedAt || wentDown(counted, last.counted)
            ? add(last.before, last.counted)
            : last.before
          : zero();
      entries.set(routeId, {
        routeId,
        agentId,
        hostname,
        startedAt: traffic.startedAt,
        counted,
        before: carried,
        totals: add(carried, counted),
        reportedAt,
      });
      taken += 1;
    }
    const ignored = traffic.routes.length - taken;
    if (ignored > 0)
      deps.logger.warn(
        { agentId, ignored },
        "gateway traffic for routes that are not this agent's ignored (an agent speaks for its own routes only)",
      );
    return { taken, ignored };
  }

  /**
   * Every route's traffic, for a scrape; routes deleted since are dropped and hostnames are read
   * again (one indexed look-up per route kept).
   */
  function all(): RouteTraffic[] {
    const current = routeHostnames(deps.db, [...entries.keys()]);
    const kept: RouteTraffic[] = [];
    for (const [routeId, entry] of entries) {
      const route = current.get(routeId);
      if (!route || route.agentId !== entry.agentId || !route.hostname) {
        entries.delete(routeId);
        continue;
      }
      entry.hostname = route.hostname;
      kept.push(entry);
    }
    return kept;
  }

  return {
    note,
    all,
    /** The route's traffic, if its gateway counted any since the master started. */
    ofRoute(routeId: number): RouteTraffic | undefined {
      return entries.get(routeId);
    },
  };
}
