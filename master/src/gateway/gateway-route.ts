import {
  type GatewayRoute,
  gatewayPathMatch,
  gatewayRouteSchema,
  type RoutingTableInput,
  ValidationError,
} from '@tunnelfleet/common';
import type { RouteSpec } from '../routes/route-spec.js';

/** One route of a host's gateway table, as `set_gateway_routes` carries it. */
export type GatewayRouteInput = RoutingTableInput['routes'][number];

/**
 * Whether a route goes through its host's gateway instead of straight from cloudflared to the
 * container: the one place that decides (wake on request, matches, weights, filters). Plain routes
 * never touch the gateway.
 */
export function needsGateway(spec: Pick<RouteSpec, 'wake' | 'l7'>): boolean {
  return spec.wake !== undefined || spec.l7 !== undefined;
}

/**
 * `originRequest` settings about the origin itself. Through the gateway, cloudflared's origin is
 * the gateway, so these would apply to the wrong hop, and the gateway has no equivalent yet: a
 * route that sets one is not sent through it (fail closed) rather than served without it.
 */
const BACKEND_ORIGIN_KEYS = ['httpHostHeader', 'originServerName', 'matchSNItoHost', 'caPool', 'noTLSVerify'];

export type GatewayRouteResult = { ok: true; route: GatewayRouteInput } | { ok: false; reason: string };

/** A route's id in its gateway's table, as the gateway names it back (in a refusal, in its metrics). */
export const gatewayRouteId = (id: number) => `route-${id}`;

/** The route a gateway route id names; undefined for one the master never gave. */
export function routeIdOfGatewayRoute(gatewayId: string): number | undefined {
  const match = /^route-([1-9][0-9]{0,15})$/.exec(gatewayId);
  const id = match ? Number(match[1]) : undefined;
  return id !== undefined && Number.isSafeInteger(id) ? id : undefined;
}

/** What of a route the gateway needs: its row's id, hostname, path regex, service and spec. */
export interface GatewayRouteSource {
  id: number;
  hostname: string;
  path: string;
  service: string;
  spec: RouteSpec;
}

/**
 * A route the master accepted, as its host's gateway routes it: the one translation from the
 * route's labels (as the master judged them) to the gateway's table. Pure: the caller decides
 * which routes are accepted and whose container serves them.
 */
export function toGatewayRoute(route: GatewayRouteSource, container: { name: string }): GatewayRouteResult {
  const path = gatewayPathMatch(route.path || undefined);
  let backend: string;
  try {
    const url = new URL(route.service);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    backend = url.origin;
  } catch {
    return { ok: false, reason: `service ${route.service} is not an http:// or https:// origin` };
  }
  const unsupported = BACKEND_ORIGIN_KEYS.filter((key) => key in (route.spec.originRequest ?? {}));
  if (unsupported.length > 0)
    return {
      ok: false,
      reason: `origin.${unsupported.join(', origin.')} cannot be applied through the gateway`,
    };
  const gatewayRoute: GatewayRouteInput = {
    id: gatewayRouteId(route.id),
    hostname: route.hostname,
    path,
    backend: { url: backend },
    // The labels' matches, weight and filters are already in the gateway route's own shape.
    ...route.spec.l7,
  };
  const wake = route.spec.wake;
  if (wake) {
    gatewayRoute.wake = {
      container: container.name,
      dependsOn: wake.dependsOn,
      startTimeoutMs: wake.startTimeoutSeconds * 1000,
      idleTimeoutMs: wake.idleTimeoutSeconds * 1000,
      redirectPath: wake.redirectPath,
      ...(wake.healthPath ? { healthPath: wake.healthPath } : {}),
      // The agent starts and stops the container at these times (the gateway only carries them).
      ...(wake.schedule ? { schedule: wake.schedule } : {}),
    } satisfies GatewayRoute['wake'];
  }
  // Checked with the gateway's own schema: a route it would refuse is withheld here, with the
  // reason, rather than sent (the whole \`set_gateway_routes\` would be refused for it, and the
  // host's other routes with it).
  const checked = gatewayRouteSchema.safeParse(gatewayRoute);
  if (!checked.success)
    return { ok: false, reason: ValidationError.fromZod('gateway route', checked.error).message };
  return { ok: true, route: gatewayRoute };
}
