import { stableStringify } from '@tunnelfleet/common';
import { readRouteSpec } from '../routes/route-spec.js';
import { isCloudDesired } from '../routes/route-targets.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes, type RouteRecord } from '../store/routes.js';
import { needsGateway } from './gateway-route.js';

/**
 * Whether a route may share its hostname and path with other routes of its agent: it goes
 * through the host's gateway and carries routing labels (`weight`, `match.*`, `filter.*`,
 * `mirror`). The gateway then groups such routes by hostname, path and match (round-robin or by
 * weight) or tells them apart by their matches; cloudflared has one rule for them all.
 */
function joinsGroups(route: Pick<RouteRecord, 'spec'>): boolean {
  const spec = readRouteSpec(route.spec);
  return needsGateway(spec) && spec.l7 !== undefined;
}

const ROUTING_LABELS = 'routing labels (weight, match.*, filter.*, mirror)';

/**
 * Why `claimant` cannot share the hostname and path that `holder` (the earliest claim, on the same
 * agent) holds, or undefined when it joins the holder's gateway group. Both must go through the
 * gateway with routing labels, and agree on Access: the hostname and path have one Access app and
 * one rule, so a member asking for other Access would either lose it or impose it on the others
 * (fail closed: it is not published).
 */
export function gatewayGroupRefusal(
  holder: Pick<RouteRecord, 'spec' | 'containerName'>,
  claimant: Pick<RouteRecord, 'spec'>,
): string | undefined {
  if (!joinsGroups(holder) || !joinsGroups(claimant)) {
    return (
      `only routes through the host's gateway with ${ROUTING_LABELS} can share a hostname and path, ` +
      `and ${joinsGroups(holder) ? 'this one has none' : `container ${holder.containerName}'s has none`}`
    );
  }
  const access = (route: Pick<RouteRecord, 'spec'>) =>
    stableStringify(readRouteSpec(route.spec).access ?? null);
  if (access(holder) !== access(claimant)) {
    return (
      `it asks for other Access than container ${holder.containerName}'s route; the members of a ` +
      'gateway group must agree on Access (the hostname and path have one Access app)'
    );
  }
  return undefined;
}

/**
 * The gateway group of each route that has one: the ids of its agent's carried routes with the
 * same hostname and path through the gateway (itself included, oldest claim first), when there
 * are several. Routes alone on their hostname and path have none.
 */
export function gatewayGroupsOf(
  db: SqliteDatabase,
  routes: readonly RouteRecord[],
  now: Date,
): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  const seen = new Set<string>();
  for (const route of routes) {
    if (route.hostname === null || !joinsGroups(route)) continue;
    const key = `${route.agentId}\u0000${route.hostname}\u0000${route.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const members = listRoutes(db, { agentId: route.agentId, hostname: route.hostname })
      .filter((other) => other.path === route.path && joinsGroups(other) && isCloudDesired(db, other, now))
      .sort((a, b) => (a.claimedAt < b.claimedAt ? -1 : a.claimedAt > b.claimedAt ? 1 : a.id - b.id))
      .map((other) => other.id);
    if (members.length < 2) continue;
    for (const id of members) groups.set(id, members);
  }
  return groups;
}

/** The routes as the API shows them: each with its gateway group's member ids, or null. */
export function withGatewayGroups<R extends RouteRecord>(
  db: SqliteDatabase,
  routes: readonly R[],
  now: Date,
): (R & { gatewayGroup: number[] | null })[] {
  const groups = gatewayGroupsOf(db, routes, now);
  return routes.map((route) => ({ ...route, gatewayGroup: groups.get(route.id) ?? null }));
}
