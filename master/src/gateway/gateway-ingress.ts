import { describeCycle, gatewayServiceUrl } from '@tunnelfleet/common';
import { readRouteSpec } from '../routes/route-spec.js';
import { findAgentGateway } from '../store/agent-gateways.js';
import type { SqliteDatabase } from '../store/database.js';
import { findGatewayRefusal } from '../store/gateway-refusals.js';
import type { RouteRecord } from '../store/routes.js';
import { findAgentTunnel } from '../store/tunnels.js';
import { type GatewayRouteResult, toGatewayRoute } from './gateway-route.js';
import type { WakeCycleLookup } from './wake-cycles.js';

/** Where cloudflared sends a route through the gateway, or why it is not published. */
export type GatewayIngress = { ok: true; service: string } | { ok: false; message: string };

/** The translation of a route row (its container's name is the row's). */
export function gatewayRouteOf(
  route: RouteRecord & { hostname: string; service: string },
): GatewayRouteResult {
  return toGatewayRoute({ ...route, spec: readRouteSpec(route.spec) }, { name: route.containerName });
}

const withheld = (why: string) => `${why}; the route is not published until then`;

/**
 * The ingress service of a route that needs its host's gateway. Fail closed: it is published only
 * through a gateway that its agent runs and that is ready, on the agent's own tunnel, and only at
 * the address the master derives from the agent's id (an agent cannot name another host's gateway,
 * whatever it reports); not when its wake dependencies form a cycle, nor when the gateway refused
 * it (it answers 503 there). Otherwise the route is not published, and the message says why.
 */
export function gatewayIngress(
  db: SqliteDatabase,
  route: RouteRecord & { hostname: string; service: string },
  tunnelId: string,
  cycleOf: WakeCycleLookup,
): GatewayIngress {
  if (findAgentTunnel(db, route.agentId)?.id !== tunnelId)
    return {
      ok: false,
      message: withheld("wake on request goes through the host's gateway, which a shared tunnel cannot name"),
    };
  const translated = gatewayRouteOf(route);
  if (!translated.ok) return { ok: false, message: withheld(translated.reason) };
  const cycle = readRouteSpec(route.spec).wake ? cycleOf(route) : undefined;
  if (cycle) return { ok: false, message: withheld(describeCycle(cycle)) };
  const gateway = findAgentGateway(db, route.agentId);
  const expected = gatewayServiceUrl(route.agentId);
  if (!gateway) return { ok: false, message: withheld("waiting for the host's gateway (set GATEWAY_IMAGE)") };
  if (gateway.serviceUrl !== null && gateway.serviceUrl !== expected)
    return {
      ok: false,
      message: withheld(`the host's gateway reported the address ${gateway.serviceUrl}, not ${expected}`),
    };
  if (!gateway.ready || gateway.serviceUrl === null)
    return { ok: false, message: withheld("waiting for the host's gateway (it is not ready)") };
  const refusal = findGatewayRefusal(db, route.id);
  if (refusal)
    return {
      ok: false,
      message: withheld(`the host's gateway refused this route (${refusal.code}): ${refusal.message}`),
    };
  return { ok: true, service: expected };
}
