import { gatewayGroupRefusal } from '../gateway/gateway-groups.js';
import { recordAudit } from '../store/audit-log.js';
import { openConflict, openConflictKinds, resolveConflicts } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes, type RouteRecord, setRouteStatus } from '../store/routes.js';
import { findSharedTunnel } from '../store/shared-tunnels.js';
import { removeRetainedRoutes } from './retained-routes.js';
import { routeTunnelId, ruleFingerprint } from './route-targets.js';

/** A route that wants its hostname: running, or stopped but inside its grace period. */
function isClaimant(route: RouteRecord, now: string): boolean {
  if (route.hostname === null) return false;
  if (route.status === 'pending_deletion') return route.deleteAfter !== null && route.deleteAfter > now;
  return route.status === 'active' || route.status === 'error' || route.status === 'conflict';
}

const byClaim = (a: RouteRecord, b: RouteRecord) =>
  a.claimedAt < b.claimedAt ? -1 : a.claimedAt > b.claimedAt ? 1 : a.id - b.id;

function describePath(path: string): string {
  return path ? ` with path ${JSON.stringify(path)}` : '';
}

/**
 * Settles who holds each of these hostnames. The hostname is the unit of ownership: the agent of
 * its earliest claimant holds every path of it, so another agent can never slip a route (or an
 * Access app: a bypass on `/admin`) onto a hostname it does not hold. Within the holding agent,
 * each path goes to its earliest claimant, except that routes through the host's gateway with
 * routing labels that agree on Access form a gateway group and all hold it (the gateway chooses
 * among them: gateway-groups.ts). Every other claimant is a `conflict` with an open
 * `hostname_claimed` conflict naming the holder. A former loser whose holder went away becomes
 * the holder (hand-over). A route that claims a hostname kept for a `cleanup=false` route that is
 * gone takes it over from that retained route. Runs inside the caller's transaction.
 *
 * When the earliest claimant is on a shared tunnel, the tunnel holds the hostname instead of an
 * agent: a route of another member on that same tunnel, with the same rule (service, path, origin,
 * Access), is a replica on another host and holds its claim beside the first (Cloudflare spreads
 * the traffic over the members' connectors); one with a different rule is a `conflict`, since the
 * tunnel has one rule per hostname and path.
 */
export function resolveClaims(db: SqliteDatabase, hostnames: Iterable<string>, now: Date): void {
  const at = now.toISOString();
  const taken = new Set<string>();
  for (const hostname of new Set(hostnames)) {
    const claimants = listRoutes(db, { hostname })
      .filter((route) => isClaimant(route, at))
      .sort(byClaim);
    const first = claimants[0];
    if (first === undefined) continue;
    taken.add(hostname);
    const sharedTunnel = sharedTunnelOf(db, first);
    const onHoldingSide = (claimant: RouteRecord) =>
      sharedTunnel === undefined
        ? claimant.agentId === first.agentId
        : routeTunnelId(db, claimant) === sharedTunnel.tunnelId;
    const holderOfPath = new Map<string, RouteRecord>();
    for (const claimant of claimants) {
      if (!onHoldingSide(claimant)) {
        loseClaim(db, claimant, first, at);
        continue;
      }
      const holder = holderOfPath.get(claimant.path);
      if (holder === undefined) {
        holderOfPath.set(claimant.path, claimant);
        holdClaim(db, claimant, at);
        continue;
      }
      // A gateway group lives on its agent's own tunnel: a shared tunnel cannot name one gateway.
      const refusal = sharedTunnel === undefined ? gatewayGroupRefusal(holder, claimant) : undefined;
      if (sharedTunnel === undefined && refusal === undefined) {
        holdClaim(db, claimant, at);
      } else if (
        sharedTunnel !== undefined &&
        claimant.agentId !== holder.agentId &&
        ruleFingerprint(db, claimant) === ruleFingerprint(db, holder)
      ) {
        holdClaim(db, claimant, at);
      } else {
        loseClaim(db, claimant, holder, at, sharedTunnel?.name, refusal);
      }
    }
  }
  for (const replaced of removeRetainedRoutes(db, (r) => taken.has(r.hostname))) {
    recordAudit(db, {
      actor: 'system',
      action: 'route.retained.replace',
      target: replaced.id,
      details: { agentId: replaced.agentId, hostname: replaced.hostname, path: replaced.path },
    });
  }
}

/** The shared tunnel the route is served by, if it is on one. */
function sharedTunnelOf(db: SqliteDatabase, route: RouteRecord) {
  if (route.tunnelName === null) return undefined;
  const shared = findSharedTunnel(db, route.tunnelName);
  return shared && routeTunnelId(db, route) === shared.tunnelId ? shared : undefined;
}

function holdClaim(db: SqliteDatabase, holder: RouteRecord, at: string): void {
  if (!openConflictKinds(db, holder.id).includes('hostname_claimed')) return;
  resolveConflicts(db, holder.id, at, ['hostname_claimed']);
  if (holder.status === 'conflict' && openConflictKinds(db, holder.id).length === 0) {
    setRouteStatus(db, holder.id, 'active', null, at);
  }
}

function loseClaim(
  db: SqliteDatabase,
  loser: RouteRecord,
  holder: RouteRecord,
  at: string,
  sharedTunnel?: string,
  /** Why it cannot join the holder's gateway group, when both are on the holder's agent. */
  refusal?: string,
): void {
  const hostname = holder.hostname!;
  const what =
    sharedTunnel !== undefined && loser.agentId !== holder.agentId
      ? `hostname ${hostname}${describePath(loser.path)} on shared tunnel "${sharedTunnel}" is published ` +
        `with another rule (service, origin or Access) by container ${holder.containerName}; replicas on a ` +
        'shared tunnel must ask for the same rule'
      : loser.agentId === holder.agentId
        ? `hostname ${hostname}${describePath(loser.path)} is already held by container ${holder.containerName}` +
          (refusal ? ` (${refusal})` : '')
        : `hostname ${hostname} (every path of it) is held by agent ${holder.agentId}`;
  const message =
    `${what} on agent ${holder.agentId} (claimed ${holder.claimedAt}); ` +
    'this route takes over when that one goes away';
  openConflict(
    db,
    {
      kind: 'hostname_claimed',
      hostname,
      path: loser.path,
      routeId: loser.id,
      holderRouteId: holder.id,
      message,
    },
    at,
  );
  if (loser.status !== 'pending_deletion') setRouteStatus(db, loser.id, 'conflict', message, at);
}
