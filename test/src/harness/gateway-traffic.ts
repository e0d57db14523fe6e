import type { GatewayRouteTraffic } from '@tunnelfleet/common';

/**
 * One route's numbers as an agent forwards them from its gateway (heartbeat `gatewayTraffic`):
 * `ok` 2xx and `errors` 5xx answers, each under 5 ms, and the wakes and idle stops given.
 */
export function gatewayRouteTraffic(
  route: string,
  n: { ok: number; errors?: number; wakes?: number; wakeTimeouts?: number; idleStops?: number },
): GatewayRouteTraffic {
  const requests = n.ok + (n.errors ?? 0);
  return {
    route,
    requests: [0, n.ok, 0, 0, n.errors ?? 0],
    latency: { sum: requests * 0.003, buckets: Array(6).fill(requests) },
    wakes: n.wakes ?? 0,
    wakeSeconds: (n.wakes ?? 0) * 1.5,
    wakeTimeouts: n.wakeTimeouts ?? 0,
    idleStops: n.idleStops ?? 0,
  };
}
