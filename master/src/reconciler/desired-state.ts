import { accessDomain } from '../cloudflare/access.js';
import { gatewayIngress } from '../gateway/gateway-ingress.js';
import { needsGateway } from '../gateway/gateway-route.js';
import { createWakeCycleLookup } from '../gateway/wake-cycles.js';
import { listRetainedRoutes } from '../routes/retained-routes.js';
import { type RouteSpec, readRouteSpec } from '../routes/route-spec.js';
import {
  carriedRouteTargets,
  foreignConflicts,
  isCloudDesiredGiven,
  routeTunnelId,
  type SyncTarget,
  tunnelTarget,
} from '../routes/route-targets.js';
import { type ConflictKind, openConflictKinds } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { iterateRoutes, listRoutes, listRouteZones, type RouteRecord } from '../store/routes.js';
import { listSharedTunnelMembers, listSharedTunnels } from '../store/shared-tunnels.js';
import { findTunnelById, listTunnels } from '../store/tunnels.js';
import { readAccessGuards } from './access-guards.js';

/** A route Cloudflare should carry: a claim holder, or a retained `cleanup=false` route (no row). */
export interface CarriedRoute {
  route: RouteRecord | null;
  agentId: string;
  hostname: string;
  path: string;
  service: string;
  tunnelId: string;
  zone: string | null;
  spec: RouteSpec;
  claimedAt: string;
  /** Open conflicts with foreign objects: only the sync that checks each of them carries the route. */
  foreignConflicts: readonly ConflictKind[];
  /**
   * The other routes of a gateway group carried by this one's rule (claims.ts lets routes through
   * the gateway share a hostname and path): the rule's verdict is theirs too.
   */
  groupMembers?: readonly RouteRecord[];
}

/** What `originRequest.access` of a protected route's ingress rule holds. */
export interface AccessCheck {
  required: true;
  teamName: string;
  audTag: string[];
}

/** A carried route whose Access, if it asks for any, is in place: its rule and CNAME may exist. */
export interface PublishedRoute extends CarriedRoute {
  /** Set when the route asks for Access: cloudflared then refuses requests without its token. */
  accessCheck?: AccessCheck;
}

interface DesiredState {
  /** Every route Cloudflare should carry, whether or not its Access is in place yet. */
  carried: CarriedRoute[];
  /**
   * The carried routes that may be published now: those that ask for no Access, and those whose
   * Access app the last Access sync confirmed (see access-guards.ts). Never one without the other.
   */
  published: PublishedRoute[];
  /** Routes that should be carried but have no tunnel to be carried by. */
  withoutTunnel: RouteRecord[];
  /**
   * Routes that need their host's gateway and cannot have it (none, not ready, or a path it cannot
   * match): neither rule nor record, and the status says why (fail closed).
   */
  gatewayWithheld: { route: RouteRecord; tunnelId: string; message: string }[];
}

/**
 * Part of the desired state: what one tunnel or one zone carries, or one zone's given hostnames
 * (every path of each: a hostname's record and rules are decided by all its routes together).
 */
export type DesiredScope =
  | { tunnelId: string }
  | { zone: string; hostnames?: ReadonlySet<string> }
  | { agentId: string };

/** The routes a scope may carry, read by index rather than the whole table. */
function routesOf(db: SqliteDatabase, scope: DesiredScope | undefined): RouteRecord[] {
  if (scope === undefined) return listRoutes(db);
  if ('zone' in scope && scope.hostnames) {
    return [...scope.hostnames].flatMap((hostname) => listRoutes(db, { hostname, zone: scope.zone }));
  }
  if ('zone' in scope) return listRoutes(db, { zone: scope.zone });
  if ('agentId' in scope) return listRoutes(db, { agentId: scope.agentId });
  // A route rides its own agent's tunnel (route-targets.ts, routeTunnelId), or a shared tunnel its
  // agent is a member of: a shared tunnel's row has no agent, and carries its members' routes.
  const tunnel = findTunnelById(db, scope.tunnelId);
  if (!tunnel) return [];
  if (tunnel.agentId) return listRoutes(db, { agentId: tunnel.agentId });
  const shared = listSharedTunnels(db).find((candidate) => candidate.tunnelId === scope.tunnelId);
  if (!shared) return [];
  return listSharedTunnelMembers(db, shared.name).flatMap((member) =>
    listRoutes(db, { agentId: member.agentId }),
  );
}

/**
 * The desired Cloudflare state, read from SQLite (the source of truth) in one go: the whole of it,
 * or only what one tunnel or zone carries (a sync of one target at fleet scale must not read
 * every route of the fleet).
 */
export function readDesiredState(db: SqliteDatabase, now: Date, scope?: DesiredScope): DesiredState {
  const carried: CarriedRoute[] = [];
  const withoutTunnel: RouteRecord[] = [];
  const tunnelOf = tunnelLookup(db);
  for (const route of routesOf(db, scope)) {
    const outcome = carry(db, route, now, tunnelOf);
    if (outcome === 'without_tunnel') withoutTunnel.push(route);
    else if (outcome) carried.push(outcome);
  }
  for (const kept of listRetainedRoutes(db)) {
    if (scope && !retainedInScope(kept, scope)) continue;
    carried.push({
      route: null,
      ...kept,
      spec: readRouteSpec(kept.spec),
      claimedAt: kept.retainedAt,
      foreignConflicts: [],
    });
  }
  const guards = readAccessGuards(db);
  // Each route through the gateway is checked on its own first: a group member the gateway cannot
  // route is withheld with its reason, and the group's rule is carried by the others.
  const gatewayWithheld: DesiredState['gatewayWithheld'] = [];
  const gatewayServices = new Map<RouteRecord, string>();
  const cycleOf = createWakeCycleLookup(db);
  const routable = carried.filter((route) => {
    if (!route.route || !needsGateway(route.spec)) return true;
    const ingress = gatewayIngress(
      db,
      { ...route.route, hostname: route.hostname, service: route.service },
      route.tunnelId,
      cycleOf,
    );
    if (ingress.ok) gatewayServices.set(route.route, ingress.service);
    else gatewayWithheld.push({ route: route.route, tunnelId: route.tunnelId, message: ingress.message });
    return ingress.ok;
  });
  const rules = onePerRule(routable);
  const published = rules.flatMap((route): PublishedRoute[] => {
    const gatewayService = route.route ? gatewayServices.get(route.route) : undefined;
    // cloudflared's origin is the gateway; the route's own service is the gateway's backend.
    const through: PublishedRoute =
      gatewayService === undefined ? route : { ...route, service: gatewayService };
    if (!through.spec.access) return [through];
    const aud = guards.apps[accessDomain(route.hostname, route.path || undefined)];
    if (!aud || guards.teamName === null) return [];
    return [{ ...through, accessCheck: { required: true, teamName: guards.teamName, audTag: [aud] } }];
  });
  return { carried: rules, published, withoutTunnel, gatewayWithheld };
}

function retainedInScope(
  kept: { zone: string | null; hostname: string; tunnelId: string; agentId: string },
  scope: DesiredScope,
) {
  if ('zone' in scope) return kept.zone === scope.zone && (scope.hostnames?.has(kept.hostname) ?? true);
  if ('agentId' in scope) return kept.agentId === scope.agentId;
  return kept.tunnelId === scope.tunnelId;
}

/** A route's tunnel id, read once per agent and tunnel label for one pass over many routes. */
type TunnelOf = (route: RouteRecord) => string | undefined;

function tunnelLookup(db: SqliteDatabase): TunnelOf {
  const known = new Map<string, string | undefined>();
  return (route) => {
    const key = `${route.agentId}\u0000${route.tunnelName ?? ''}`;
    if (!known.has(key)) known.set(key, routeTunnelId(db, route));
    return known.get(key);
  };
}

/** How Cloudflare carries a route: not at all (undefined), by no tunnel yet, or by its tunnel. */
function carry(
  db: SqliteDatabase,
  route: RouteRecord,
  now: Date,
  tunnelOf: TunnelOf,
): CarriedRoute | 'without_tunnel' | undefined {
  const openKinds = openConflictKinds(db, route.id);
  if (!isCloudDesiredGiven(route, openKinds, now) || route.hostname === null || route.service === null)
    return undefined;
  const tunnelId = tunnelOf(route);
  if (!tunnelId) return 'without_tunnel';
  return {
    route,
    agentId: route.agentId,
    hostname: route.hostname,
    path: route.path,
    service: route.service,
    tunnelId,
    zone: route.zone,
    spec: readRouteSpec(route.spec),
    claimedAt: route.claimedAt,
    foreignConflicts: foreignConflicts(openKinds),
  };
}

/**
 * The sync targets the desired state gives work to: those of `readDesiredState(db, now).carried`
 * (`carriedRouteTargets`), but without reading every route of the fleet, which at 10,000 hosts
 * held the event loop for seconds. A zone counts from its first carried route with a DNS record,
 * Access from the first carried route asking for it; the tunnels are every live tunnel of the
 * store (an agent's own and the shared ones), whether a route rides it yet or not.
 */
export function desiredTargets(db: SqliteDatabase, now: Date): Set<SyncTarget> {
  const targets = new Set<SyncTarget>();
  const tunnelOf = tunnelLookup(db);
  for (const tunnel of listTunnels(db)) if (tunnel.deletedAt === null) targets.add(tunnelTarget(tunnel.id));
  for (const shared of listSharedTunnels(db)) targets.add(tunnelTarget(shared.tunnelId));
  for (const zone of listRouteZones(db)) {
    for (const route of iterateRoutes(db, { zone })) {
      const carried = carry(db, route, now, tunnelOf);
      if (typeof carried === 'object' && carried.spec.dns && carried.zone) {
        for (const target of carriedRouteTargets(carried)) targets.add(target);
        break;
      }
    }
  }
  for (const route of iterateRoutes(db, { asksAccess: true })) {
    const carried = carry(db, route, now, tunnelOf);
    if (typeof carried === 'object' && carried.spec.access) {
      for (const target of carriedRouteTargets(carried)) targets.add(target);
      break;
    }
  }
  for (const kept of listRetainedRoutes(db)) {
    for (const target of carriedRouteTargets({ ...kept, spec: readRouteSpec(kept.spec) }))
      targets.add(target);
  }
  return targets;
}

/**
 * Replicas on a shared tunnel's members, and the members of a gateway group, are carried as one
 * rule, record and app: the earliest claim's (claims.ts lets only replicas with the very same rule,
 * or routes through one gateway that agree on Access, hold a path together). The gateway group's
 * other members ride along, so that the rule's verdict is theirs too.
 */
function onePerRule(carried: CarriedRoute[]): CarriedRoute[] {
  const keyOf = (route: CarriedRoute) => `${route.tunnelId}|${route.hostname}|${route.path}`;
  const first = new Map<string, CarriedRoute>();
  for (const route of carried) {
    const current = first.get(keyOf(route));
    if (!current || route.claimedAt < current.claimedAt) first.set(keyOf(route), route);
  }
  const members = new Map<CarriedRoute, RouteRecord[]>();
  for (const route of carried) {
    const holder = first.get(keyOf(route))!;
    if (holder === route || !route.route || route.agentId !== holder.agentId || !needsGateway(route.spec))
      continue;
    members.set(holder, [...(members.get(holder) ?? []), route.route]);
  }
  return carried
    .filter((route) => first.get(keyOf(route)) === route)
    .map((route) => {
      const group = members.get(route);
      return group ? { ...route, groupMembers: group } : route;
    });
}

/** The routes a carried rule serves: its own row (none for a retained route) and its gateway group's. */
export const routesOfRule = (route: CarriedRoute): RouteRecord[] => [
  ...(route.route ? [route.route] : []),
  ...(route.groupMembers ?? []),
];

/** Of several carried routes on one hostname (different paths), the DNS record follows the first claim. */
export function dnsHolders(carried: readonly CarriedRoute[]): Map<string, CarriedRoute> {
  const holders = new Map<string, CarriedRoute>();
  for (const route of carried) {
    if (!route.spec.dns) continue;
    const current = holders.get(route.hostname);
    if (!current || route.claimedAt < current.claimedAt) holders.set(route.hostname, route);
  }
  return holders;
}
