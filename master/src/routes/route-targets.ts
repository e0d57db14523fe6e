import { stableStringify } from '@tunnelfleet/common';
import { type ConflictKind, openConflictKinds } from '../store/conflicts.js';
import type { SqliteDatabase } from '../store/database.js';
import type { RouteRecord } from '../store/routes.js';
import { findSharedTunnel, isSharedTunnelMember } from '../store/shared-tunnels.js';
import { findAgentTunnel } from '../store/tunnels.js';
import { type Reach, ROUTE_SPEC_REACH, type RouteSpec, readRouteSpec } from './route-spec.js';

/**
 * What a `cf-sync` job brings in line with SQLite: one tunnel's ingress, one zone's DNS records,
 * or the account's Access applications. Also the job's deduplication id.
 */
export type SyncTarget = `tunnel:${string}` | `zone:${string}` | 'access';

/** Targets a change touched, each with the hostnames of the changed routes that touch it. */
export type TargetChanges = Map<SyncTarget, Set<string>>;

export const ACCESS_TARGET: SyncTarget = 'access';
export const tunnelTarget = (tunnelId: string): SyncTarget => `tunnel:${tunnelId}`;
export const zoneTarget = (zoneName: string): SyncTarget => `zone:${zoneName}`;

/**
 * The tunnel a route is served by: its agent's own, or a shared tunnel its `tunnel` label names
 * and its agent is a member of; never another agent's. A route whose label names any other
 * tunnel is served by none. Tunnel names are not secrets (`tunnelfleet-<agent id>`, and a shared
 * tunnel's name is in every member's labels), so a name alone must never open a tunnel.
 */
export function routeTunnelId(db: SqliteDatabase, route: Pick<RouteRecord, 'agentId' | 'tunnelName'>) {
  if (route.tunnelName !== null) {
    const shared = findSharedTunnel(db, route.tunnelName);
    if (shared) return isSharedTunnelMember(db, shared.name, route.agentId) ? shared.tunnelId : undefined;
  }
  const own = findAgentTunnel(db, route.agentId);
  if (!own || (route.tunnelName !== null && route.tunnelName !== own.name)) return undefined;
  return own.id;
}

/** Why a route's `tunnel` label is refused, or undefined when it is absent or names a tunnel it may use. */
export function tunnelLabelProblem(db: SqliteDatabase, agentId: string, tunnelName: string | undefined) {
  if (tunnelName === undefined) return undefined;
  const shared = findSharedTunnel(db, tunnelName);
  if (shared) {
    if (isSharedTunnelMember(db, shared.name, agentId)) return undefined;
    return (
      `tunnel "${tunnelName}" is a shared tunnel this agent is not a member of: ` +
      `an admin adds it with \`tunnelfleet tunnels add-member ${tunnelName} ${agentId}\``
    );
  }
  const own = findAgentTunnel(db, agentId);
  if (own && own.name === tunnelName) return undefined;
  return (
    `tunnel "${tunnelName}" is not this agent's tunnel: a route may use only ` +
    `its own agent's tunnel (${own ? `"${own.name}"` : 'not created yet'}) or a shared tunnel that ` +
    'lists its agent as a member; remove the tunnel label'
  );
}

/**
 * Whether Cloudflare should carry the route now. A stopped container's route still does during
 * its grace period (so a restart needs no Cloudflare call); a route that lost its hostname to an
 * earlier claimant does not. One in conflict with a foreign object is still checked by the sync
 * of that part (its zone for a record, Access for an app), which is how it wins, but is published
 * nowhere else until then (`foreignConflicts`).
 */
export function isCloudDesired(db: SqliteDatabase, route: RouteRecord, now: Date): boolean {
  return isCloudDesiredGiven(route, openConflictKinds(db, route.id), now);
}

/** `isCloudDesired` with the route's open conflict kinds already read. */
export function isCloudDesiredGiven(
  route: RouteRecord,
  openKinds: readonly ConflictKind[],
  now: Date,
): boolean {
  if (route.hostname === null) return false;
  const wanted =
    route.status === 'active' ||
    route.status === 'error' ||
    route.status === 'conflict' ||
    (route.status === 'pending_deletion' &&
      route.deleteAfter !== null &&
      route.deleteAfter > now.toISOString());
  return wanted && !openKinds.includes('hostname_claimed');
}

/**
 * The foreign objects (a DNS record, an Access app) that keep a route unpublished until it wins.
 * A foreign ingress rule (`foreign_ingress_rule`) is not one: the tunnel's sync that finds it must
 * keep carrying the route, and the route's record points at that tunnel either way.
 */
export const FOREIGN_CONFLICT_KINDS: readonly ConflictKind[] = ['foreign_dns_record', 'foreign_access_app'];

export function foreignConflicts(openKinds: readonly ConflictKind[]): ConflictKind[] {
  return openKinds.filter((kind) => FOREIGN_CONFLICT_KINDS.includes(kind));
}

/**
 * The columns of a route as `ROUTE_SPEC_REACH` sorts the spec's fields. `status` and `deleteAfter`
 * decide whether Cloudflare carries the route at all (`isCloudDesired`), not how.
 */
export const ROUTE_COLUMN_REACH = {
  id: 'local',
  // The owner of its DNS records (their comment names the agent) and, unless the labels name a
  // shared tunnel, the tunnel that serves it.
  agentId: 'cloud',
  // Who serves the route: a successor serving the same labels changes nothing at Cloudflare.
  identity: 'local',
  containerId: 'local',
  containerName: 'local',
  replicas: 'local',
  replaced: 'local',
  routeKey: 'local',
  hostname: 'cloud',
  path: 'cloud',
  service: 'cloud',
  zone: 'cloud',
  tunnelName: 'cloud',
  spec: 'cloud',
  status: 'local',
  statusMessage: 'local',
  problems: 'local',
  deleteAfter: 'local',
  claimedAt: 'local',
  createdAt: 'local',
  updatedAt: 'local',
} as const satisfies Record<keyof RouteRecord, Reach>;

function cloudFields<T extends object>(value: T, reach: Record<keyof T, Reach>): Partial<T> {
  const keys = (Object.keys(reach) as (keyof T)[]).filter((key) => reach[key] === 'cloud');
  return Object.fromEntries(keys.map((key) => [key, value[key] ?? null])) as Partial<T>;
}

/**
 * The route as Cloudflare would carry it, or null when it should carry nothing: two equal
 * fingerprints mean no sync is needed for this route. Every `cloud` column and spec field is in
 * it, and the tunnel the route resolves to (a shared tunnel can be created or deleted meanwhile).
 */
export function cloudFingerprint(db: SqliteDatabase, route: RouteRecord, now: Date): string | null {
  if (!isCloudDesired(db, route, now)) return null;
  return stableStringify({
    ...cloudFields(route, ROUTE_COLUMN_REACH),
    spec: cloudFields(readRouteSpec(route.spec), ROUTE_SPEC_REACH),
    tunnelId: routeTunnelId(db, route) ?? null,
  });
}

/**
 * The rule a route asks its tunnel for, whoever asks: equal for replicas of one service on two
 * members of a shared tunnel, which then serve it together (claims.ts).
 */
export function ruleFingerprint(db: SqliteDatabase, route: RouteRecord): string {
  const { agentId: _owner, ...rule } = cloudFields(route, ROUTE_COLUMN_REACH);
  return stableStringify({
    ...rule,
    spec: cloudFields(readRouteSpec(route.spec), ROUTE_SPEC_REACH),
    tunnelId: routeTunnelId(db, route) ?? null,
  });
}

/** The sync targets of a route Cloudflare carries (or carried): its tunnel, its zone, Access. */
export function carriedRouteTargets(route: {
  tunnelId: string;
  zone: string | null;
  spec: Pick<RouteSpec, 'dns' | 'access'>;
}): SyncTarget[] {
  const targets: SyncTarget[] = [tunnelTarget(route.tunnelId)];
  if (route.spec.dns && route.zone) targets.push(zoneTarget(route.zone));
  if (route.spec.access) targets.push(ACCESS_TARGET);
  return targets;
}

/** Adds the route's targets to `changes`, each with the route's hostname. */
export function addRouteTargets(db: SqliteDatabase, changes: TargetChanges, route: RouteRecord): void {
  for (const target of routeTargets(db, route)) {
    const hostnames = changes.get(target) ?? new Set<string>();
    if (route.hostname !== null) hostnames.add(route.hostname);
    changes.set(target, hostnames);
  }
}

/** The sync targets a route touches. */
export function routeTargets(db: SqliteDatabase, route: RouteRecord): SyncTarget[] {
  const targets: SyncTarget[] = [];
  const tunnelId = routeTunnelId(db, route);
  if (tunnelId) targets.push(tunnelTarget(tunnelId));
  const spec = readRouteSpec(route.spec);
  if (spec.dns && route.zone) targets.push(zoneTarget(route.zone));
  if (spec.access) targets.push(ACCESS_TARGET);
  return targets;
}
