/** Fault injection: what the next requests suffer before (or instead of) being served. */
export interface FaultSettings {
  /** Added to every API reply. */
  latencyMs?: number;
  /** Route key (`PUT /accounts/:id/cfd_tunnel/:id/configurations`) or '*' → share of 5xx replies. */
  errorRate?: Record<string, number>;
  /** The next `count` calls of `route` (a route key or '*') fail with `status`. */
  failNext?: { route: string; status: number; count: number };
  /** A fraction in (0, 1): share of requests whose socket is destroyed without a reply;
   *  a whole number ≥ 1: that many next requests are dropped. */
  dropConnections?: number;
  /** Every authenticated API call answers 429 with Retry-After until cleared. */
  rateLimitStorm?: boolean;
}

type FaultDecision =
  | { kind: 'none' }
  | { kind: 'drop' }
  | { kind: 'error'; status: number }
  | { kind: 'rate-limit' };

export function createFaults(random: () => number = Math.random) {
  let settings: FaultSettings = {};
  let failNextLeft = 0;
  let dropsLeft = 0;
  // Held requests: a test opens a window in which a call of the master is in flight, to play a
  // race deterministically (e.g. a revocation while a registration waits for Cloudflare).
  let heldRoute: string | undefined;
  const waiting: Array<() => void> = [];
  return {
    /** From now on, calls of `route` (a route key) wait before they are served, until `release`. */
    hold(route: string): void {
      heldRoute = route;
    },
    /** Serves every held call, and holds no more. */
    release(): void {
      heldRoute = undefined;
      for (const resume of waiting.splice(0)) resume();
    },
    /** How many calls wait now. */
    held(): number {
      return waiting.length;
    },
    /** Resolves at once, or when `release` is called if `route` is held. */
    waitIfHeld(route: string): Promise<void> {
      if (route !== heldRoute) return Promise.resolve();
      return new Promise((resume) => waiting.push(resume));
    },
    set(next: FaultSettings): void {
      settings = { ...settings, ...next };
      if (next.failNext) failNextLeft = next.failNext.count;
      if (next.dropConnections !== undefined && next.dropConnections >= 1) dropsLeft = next.dropConnections;
    },
    clear(): void {
      settings = {};
      failNextLeft = 0;
      dropsLeft = 0;
      heldRoute = undefined;
      for (const resume of waiting.splice(0)) resume();
    },
    latencyMs(): number {
      return settings.latencyMs ?? 0;
    },
    /** Decided before routing, for any request: dropped connections. */
    beforeRequest(): FaultDecision {
      const drop = settings.dropConnections;
      if (drop === undefined) return { kind: 'none' };
      if (drop >= 1) {
        if (dropsLeft > 0) {
          dropsLeft -= 1;
          return { kind: 'drop' };
        }
        return { kind: 'none' };
      }
      return random() < drop ? { kind: 'drop' } : { kind: 'none' };
    },
    /** Decided once the route is known and the token accepted. */
    forRoute(routeKey: string): FaultDecision {
      if (settings.rateLimitStorm) return { kind: 'rate-limit' };
      const failNext = settings.failNext;
      if (failNext && failNextLeft > 0 && (failNext.route === '*' || failNext.route === routeKey)) {
        failNextLeft -= 1;
        return { kind: 'error', status: failNext.status };
      }
      const rate = settings.errorRate?.[routeKey] ?? settings.errorRate?.['*'];
      if (rate !== undefined && random() < rate) return { kind: 'error', status: 500 };
      return { kind: 'none' };
    },
  };
}
