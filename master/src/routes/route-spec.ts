import type { AccessSpec, GatewayL7, LabelSource, OriginRequest, WakeSpec } from '@tunnelfleet/common';

/** What the `spec` column of a route holds: the parts of a parsed route without a column of their own. */
export interface RouteSpec {
  source?: LabelSource;
  originRequest?: OriginRequest;
  access?: AccessSpec;
  /** `access.public=true`: published without Access on purpose (the public-routes report says so). */
  public?: true;
  /** Manage the DNS record (label `dns`, default true). */
  dns: boolean;
  /** Remove the cloud objects after the grace period (label `cleanup`, default true). */
  cleanup: boolean;
  /** The zone the labels named, if they named one (the `zone` column holds the resolved zone). */
  zoneLabel?: string;
  /** Wake on request (labels `wake`, `idle_timeout`…): the route goes through the host's gateway. */
  wake?: WakeSpec;
  /** Matches, weight and filters (labels `match.*`, `weight`, `filter.*`, `mirror`): through the gateway too. */
  l7?: GatewayL7;
}

/** Whether Cloudflare carries a field of a route (`cloud`) or only the master reads it (`local`). */
export type Reach = 'cloud' | 'local';

/**
 * The reach of every spec field: the `cloud` ones make the route's fingerprint, so changing one
 * syncs. A field added to `RouteSpec` without an entry here does not compile: whoever adds an
 * option must decide.
 */
export const ROUTE_SPEC_REACH = {
  source: 'local',
  originRequest: 'cloud',
  access: 'cloud',
  // Cloudflare carries a public route the same whether or not the labels said so.
  public: 'local',
  dns: 'cloud',
  // Grace-period bookkeeping: Cloudflare carries the route the same either way.
  cleanup: 'local',
  // Resolved into the route's `zone` column, which is `cloud`.
  zoneLabel: 'local',
  // Turning wake on points the ingress rule at the host's gateway; its settings go to the gateway
  // with the route: either way the route is synced again.
  wake: 'cloud',
  // Like wake: the ingress rule points at the gateway, and the gateway's table changes.
  l7: 'cloud',
} as const satisfies Record<keyof RouteSpec, Reach>;

/** A stored spec is ours, but a hand-edited row must still read as something usable. */
export function readRouteSpec(value: unknown): RouteSpec {
  const spec = (typeof value === 'object' && value !== null ? value : {}) as Partial<RouteSpec>;
  return { ...spec, dns: spec.dns !== false, cleanup: spec.cleanup !== false };
}
