import type { RouteRecord } from '../store/routes.js';

/** What a running container's labels ask for, as far as choosing who serves a route goes. */
export interface ServerCandidate {
  identity: string;
  containerId: string;
  containerName: string;
  routeKey: string;
}

export interface ServerAssignment<C extends ServerCandidate> {
  /** The container that serves the route. */
  server: C;
  /** The row it takes over (its own, or its predecessor's); none for a new route. */
  existing: RouteRecord | undefined;
  /** Running containers of the identity that carry the route (scaled replicas). */
  replicas: number;
}

export interface ServerPlan<C extends ServerCandidate> {
  assignments: ServerAssignment<C>[];
  /** Rows no running container takes over. */
  orphans: { route: RouteRecord; succeeded: boolean }[];
}

const slot = (identity: string, routeKey: string) => `${identity}\u0000${routeKey}`;
const own = (containerId: string, routeKey: string) => `${containerId}\u0000${routeKey}`;
const byName = (a: ServerCandidate, b: ServerCandidate) =>
  a.containerName < b.containerName
    ? -1
    : a.containerName > b.containerName
      ? 1
      : a.containerId < b.containerId
        ? -1
        : a.containerId > b.containerId
          ? 1
          : 0;

/**
 * Decides, for each (identity, route key) of one agent, which running container serves the route
 * and which existing row it writes. A container keeps its own row (a restart, a rename); else it
 * takes over the row of its identity's earlier container (a recreate), so the hostname is never
 * claimed again against a predecessor. Of scaled replicas, the one already serving keeps serving
 * (the earliest claim, for rows from before identities), else the first by name. A row nobody
 * takes over is an orphan: `succeeded` when its identity still runs (the successor's labels no
 * longer ask for the route, or it is a replica's leftover row), so it ends now rather than after
 * the grace period, which is for containers that stopped with no successor.
 */
export function assignServers<C extends ServerCandidate>(
  candidates: readonly C[],
  existing: readonly RouteRecord[],
  /** Identities of the agent's running containers, with routes or not. */
  runningIdentities: ReadonlySet<string>,
): ServerPlan<C> {
  const ownRow = new Map(existing.map((route) => [own(route.containerId, route.routeKey), route]));
  const groups = new Map<string, C[]>();
  for (const candidate of candidates) {
    const key = slot(candidate.identity, candidate.routeKey);
    groups.set(key, [...(groups.get(key) ?? []), candidate]);
  }
  const taken = new Set<RouteRecord>();
  const chosen: { server: C; existing: RouteRecord | undefined; replicas: number; slot: string }[] = [];
  // First pass: every server that has a row of its own keeps it.
  for (const [key, group] of groups) {
    const withRow = group
      .map((candidate) => ({ candidate, row: ownRow.get(own(candidate.containerId, candidate.routeKey)) }))
      .filter((entry) => entry.row !== undefined)
      .sort((a, b) =>
        a.row!.claimedAt < b.row!.claimedAt ? -1 : a.row!.claimedAt > b.row!.claimedAt ? 1 : 0,
      );
    const first = withRow[0];
    const server = first?.candidate ?? [...group].sort(byName)[0]!;
    if (first?.row) taken.add(first.row);
    chosen.push({ server, existing: first?.row, replicas: group.length, slot: key });
  }
  // Second pass: a server without a row takes over its identity's row (the earliest claim).
  const identityRows = new Map<string, RouteRecord[]>();
  for (const route of existing) {
    if (taken.has(route)) continue;
    const key = slot(route.identity, route.routeKey);
    identityRows.set(key, [...(identityRows.get(key) ?? []), route]);
  }
  for (const entry of chosen) {
    if (entry.existing) continue;
    const rows = (identityRows.get(entry.slot) ?? []).filter((route) => !taken.has(route));
    rows.sort((a, b) => (a.claimedAt < b.claimedAt ? -1 : a.claimedAt > b.claimedAt ? 1 : a.id - b.id));
    entry.existing = rows[0];
    if (rows[0]) taken.add(rows[0]);
  }
  return {
    assignments: chosen.map(({ server, existing: row, replicas }) => ({ server, existing: row, replicas })),
    orphans: existing
      .filter((route) => !taken.has(route))
      .map((route) => ({ route, succeeded: runningIdentities.has(route.identity) })),
  };
}
