import { type GatewayHeartbeat, type Logger, stableStringify } from '@tunnelfleet/common';
import { readRouteSpec } from '../routes/route-spec.js';
import { isCloudDesired, routeTargets, routeTunnelId, type SyncTarget } from '../routes/route-targets.js';
import { findAgentGateway, saveAgentGateway } from '../store/agent-gateways.js';
import type { SqliteDatabase } from '../store/database.js';
import { type GatewayRefusalRecord, replaceGatewayRefusals } from '../store/gateway-refusals.js';
import { findRoute, listRoutes, type RouteRecord } from '../store/routes.js';
import { findAgentTunnel, findTunnelById } from '../store/tunnels.js';
import { gatewayRouteOf } from './gateway-ingress.js';
import { type GatewayRouteInput, needsGateway, routeIdOfGatewayRoute } from './gateway-route.js';

export interface GatewayRoutesDeps {
  db: SqliteDatabase;
  logger: Logger;
  /** Queues `set_gateway_routes` for the agent (versioned like every command); false if it may not have one. */
  send(agentId: string, routes: GatewayRouteInput[]): Promise<boolean>;
  /** The routes through the agent's gateway must be synced again (its readiness changed). */
  markDirty(targets: readonly SyncTarget[]): unknown;
  now?: () => Date;
}

/** How long a gateway that reports no table waits before it is sent its routes again. */
const RESEND_COOLDOWN_MS = 60_000;

/** The master's route ids in what the gateway refused (`route-<id>`, as `toGatewayRoute` names them). */
function refusalsOf(gateway: GatewayHeartbeat | undefined): GatewayRefusalRecord[] {
  return (gateway?.refused ?? []).flatMap((refusal) => {
    const routeId = routeIdOfGatewayRoute(refusal.id);
    return routeId === undefined ? [] : [{ routeId, code: refusal.code, message: refusal.message }];
  });
}

export type GatewayRoutesService = ReturnType<typeof createGatewayRoutesService>;

/**
 * What each host's gateway routes, decided here and only here: the agent's own accepted routes that
 * need the gateway (carried by its own tunnel, hostname held, labels judged by the master), never
 * what an agent reads from its labels, and never another agent's routes (isolation). Sent as
 * `set_gateway_routes` when that set changes, when the agent registers (a restarted agent pushes
 * nothing until told), and when its gateway reports no table.
 */
export function createGatewayRoutesService(deps: GatewayRoutesDeps) {
  const { db, logger } = deps;
  const now = deps.now ?? (() => new Date());
  /** What each agent was last sent (stable JSON): the same set is not sent twice. */
  const sent = new Map<string, string>();
  const resentAt = new Map<string, number>();

  const throughGateway = (route: RouteRecord) => needsGateway(readRouteSpec(route.spec));

  /** The agent's gateway table as the master accepts it now. */
  function tableOf(agentId: string): GatewayRouteInput[] {
    const own = findAgentTunnel(db, agentId);
    if (!own) return [];
    const at = now();
    const carried = listRoutes(db, { agentId }).filter(
      (route) =>
        route.hostname !== null &&
        route.service !== null &&
        throughGateway(route) &&
        isCloudDesired(db, route, at) &&
        routeTunnelId(db, route) === own.id,
    );
    // A stopped member of a gateway group (in its grace period) is left out while a running one
    // serves the hostname and path: the gateway would send it requests to fail.
    const live = new Set(
      carried
        .filter((route) => route.status !== 'pending_deletion')
        .map((route) => `${route.hostname}|${route.path}`),
    );
    return carried.flatMap((route) => {
      if (route.status === 'pending_deletion' && live.has(`${route.hostname}|${route.path}`)) return [];
      const translated = gatewayRouteOf({ ...route, hostname: route.hostname!, service: route.service! });
      return translated.ok ? [translated.route] : [];
    });
  }

  /** Sends the agent its table if it changed since the last one sent (or always, with `force`). */
  async function refresh(agentId: string, options: { force?: boolean } = {}): Promise<void> {
    const routes = tableOf(agentId);
    // An agent without a gateway and nothing for one is not bothered.
    if (routes.length === 0 && !findAgentGateway(db, agentId) && !sent.has(agentId)) return;
    const json = stableStringify(routes);
    if (!options.force && sent.get(agentId) === json) return;
    sent.set(agentId, json);
    try {
      if (!(await deps.send(agentId, routes))) sent.delete(agentId);
      else logger.debug({ agentId, routes: routes.length }, 'gateway routes sent');
    } catch (error) {
      sent.delete(agentId);
      logger.error({ err: error, agentId }, 'could not send the gateway routes; retried at the next sync');
    }
  }

  /** After a tunnel's sync: its agent's table may have changed with the routes it carries. */
  async function tunnelSynced(tunnelId: string): Promise<void> {
    const agentId = findTunnelById(db, tunnelId)?.agentId;
    if (agentId) await refresh(agentId);
  }

  /**
   * A heartbeat's report of the gateway: stored (the reconciler publishes routes through it only
   * while it is ready), the routes through it synced again when that changed, and the table sent
   * again when the gateway serves none (a new gateway, or one whose agent restarted).
   */
  async function noteHeartbeat(agentId: string, gateway: GatewayHeartbeat | undefined): Promise<void> {
    const hadOne = findAgentGateway(db, agentId) !== undefined;
    const record = gateway && { ready: gateway.ready, serviceUrl: gateway.serviceUrl ?? null };
    const at = now().toISOString();
    const targets = new Set<SyncTarget>();
    if (saveAgentGateway(db, agentId, record, at)) {
      for (const route of listRoutes(db, { agentId }))
        if (throughGateway(route)) for (const target of routeTargets(db, route)) targets.add(target);
    }
    // Only the agent's own routes can be refused (the store drops any other id): its word cannot
    // withhold, or publish, another host's route.
    for (const id of replaceGatewayRefusals(db, agentId, refusalsOf(gateway), at)) {
      const route = findRoute(db, id);
      if (route) for (const target of routeTargets(db, route)) targets.add(target);
    }
    if (targets.size > 0) await deps.markDirty([...targets]);
    if (!gateway) return;
    const time = now().getTime();
    const missing =
      gateway.tableVersion === undefined && time - (resentAt.get(agentId) ?? -Infinity) >= RESEND_COOLDOWN_MS;
    if (!hadOne || missing) {
      resentAt.set(agentId, time);
      await refresh(agentId, { force: true });
    }
  }

  return {
    tableOf,
    refresh,
    tunnelSynced,
    noteHeartbeat,
    forget(agentId: string) {
      sent.delete(agentId);
      resentAt.delete(agentId);
    },
  };
}
