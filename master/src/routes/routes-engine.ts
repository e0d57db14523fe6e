import {
  DEFAULT_SERVICE_POLICY,
  type LabelProblem,
  type Logger,
  type ParsedRoute,
  parseContainerLabels,
  type RouteStatus,
} from '@tunnelfleet/common';
import { checkAgentHostname } from '../agents/hostname-guard.js';
import { ZoneNotFoundError } from '../cloudflare/errors.js';
import { findAgentKey } from '../store/agent-keys.js';
import { findAgent } from '../store/agents.js';
import { openConflict, openConflictKinds, resolveConflicts } from '../store/conflicts.js';
import {
  type ContainerChange,
  type ContainerRecord,
  deleteContainer,
  listContainers,
  listUnroutedRemovedContainers,
} from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import {
  deleteRoute,
  insertRoute,
  listRoutes,
  type RouteRecord,
  type RouteWrite,
  updateRoute,
} from '../store/routes.js';
import { refusedAccessRemoval } from './access-removal.js';
import { resolveClaims } from './claims.js';
import { listRetainedRoutes, newRetainedRouteId, saveRetainedRoutes } from './retained-routes.js';
import { routeIdentity } from './route-identity.js';
import { assignServers } from './route-servers.js';
import { type RouteSpec, readRouteSpec } from './route-spec.js';
import {
  addRouteTargets,
  cloudFingerprint,
  routeTargets,
  routeTunnelId,
  type SyncTarget,
  type TargetChanges,
  tunnelLabelProblem,
} from './route-targets.js';

export interface RoutesEngineDeps {
  db: SqliteDatabase;
  logger: Logger;
  /**
   * The zone of a hostname among those the master manages (the Cloudflare layer's zone lookup);
   * throws `ZoneNotFoundError` for a hostname under none of them.
   */
  resolveZone(hostname: string, zone?: string): Promise<{ zoneName: string }>;
  /** How long a stopped container's routes stay published. */
  graceSeconds: number;
  /** REQUIRE_ACCESS: the label parser makes a route without Access, not marked public, invalid. */
  requireAccess: boolean;
  /**
   * Told which sync targets' desired state changed, each with the hostnames of its changed routes
   * (the reconciler enqueues their jobs; a zone's sync may look at those names only).
   */
  onTargetsChanged(changes: TargetChanges): Promise<void> | void;
  now?: () => Date;
}

export type RoutesEngine = ReturnType<typeof createRoutesEngine>;

/** Docker states in which a container serves (a restart is brief; everything else is a stop). */
const SERVING_STATES = new Set(['running', 'restarting']);
/**
 * A stopped container that wakes on request: it still serves the routes that wake it (they stay
 * published, with no grace period); its other routes stop as with any stop.
 */
const SLEEPING = 'sleeping';

type ZoneVerdict = { ok: true; zoneName: string } | { ok: false; outside: boolean; message: string };

/** How many earlier servers a route remembers. */
const REPLACED_KEPT = 5;

function errorMessages(problems: readonly LabelProblem[]): string {
  return problems
    .filter((p) => p.severity === 'error')
    .map((p) => p.message)
    .join('; ');
}

/**
 * Reports → desired routes. Every derivation starts again from the agent's `containers` rows
 * (already validated by the API), so running it twice, or after a crash, gives the same rows.
 */
export function createRoutesEngine(deps: RoutesEngineDeps) {
  const { db, logger } = deps;
  const now = deps.now ?? (() => new Date());

  async function checkZone(route: ParsedRoute, cache: Map<string, ZoneVerdict>): Promise<ZoneVerdict> {
    const cacheKey = `${route.hostname}\u0000${route.zone ?? ''}`;
    const cached = cache.get(cacheKey);
    if (cached) return cached;
    let verdict: ZoneVerdict;
    try {
      const { zoneName } = await deps.resolveZone(route.hostname, route.zone);
      verdict = { ok: true, zoneName };
    } catch (error) {
      const outside = error instanceof ZoneNotFoundError;
      verdict = {
        ok: false,
        outside,
        message: outside
          ? `hostname ${route.hostname} is not in a zone this master manages (${(error as Error).message})`
          : `could not look up the zone of ${route.hostname}: ${(error as Error).message}`,
      };
    }
    cache.set(cacheKey, verdict);
    return verdict;
  }

  interface Planned {
    write: Omit<RouteWrite, 'claimedAt' | 'deleteAfter' | 'status' | 'replicas' | 'replaced'> & {
      status: RouteStatus | 'claimant';
    };
    /** Why the route may not claim its hostname (allowlist or managed zones). */
    outside?: string;
  }

  /** What the containers' labels ask for, before claims; zone lookups happen here, outside the transaction. */
  async function plan(agentId: string, containers: readonly ContainerRecord[]): Promise<Planned[]> {
    const planned: Planned[] = [];
    const zones = new Map<string, ZoneVerdict>();
    // The parser judges each service by the key's policy: a refused one is an invalid route,
    // never published. An agent without a key (deleted meanwhile) gets the default policy.
    const agent = findAgent(db, agentId);
    const servicePolicy = (agent && findAgentKey(db, agent.keyId)?.servicePolicy) ?? DEFAULT_SERVICE_POLICY;
    for (const container of containers) {
      const sleeping = container.state === SLEEPING;
      if (!SERVING_STATES.has(container.state) && !sleeping) continue;
      const parsed = parseContainerLabels(container.labels, {
        containerName: container.name,
        exposedPorts: container.ports.filter((p) => p.protocol === 'tcp').map((p) => p.port),
        networks: container.networks,
        servicePolicy,
        requireAccess: deps.requireAccess,
        // The host's own prefixes only choose which of its labels are read; what they ask for is
        // judged below exactly as with the default prefixes (allowlist, zones, tunnel, claims).
        ...(agent ? { labelPrefixes: agent.labelPrefixes } : {}),
      });
      if (!parsed.enabled) continue;
      const base = {
        agentId,
        identity: routeIdentity(container),
        containerId: container.containerId,
        containerName: container.name,
      };
      // Problems of the container as a whole (a misspelt key, an unsupported peer key) name no
      // route: show them on each of its routes so the operator sees them in the API.
      const containerProblems = parsed.problems.filter((p) => p.route === undefined);
      for (const route of parsed.routes) {
        // The agent's word that the container sleeps counts only for routes its labels make wake.
        if (sleeping && !route.wake) continue;
        const spec: RouteSpec = {
          source: route.source,
          originRequest: route.originRequest,
          dns: route.dns,
          cleanup: route.cleanup,
          ...(route.access ? { access: route.access } : {}),
          ...(route.public ? { public: true as const } : {}),
          ...(route.zone ? { zoneLabel: route.zone } : {}),
          ...(route.wake ? { wake: route.wake } : {}),
          ...(route.l7 ? { l7: route.l7 } : {}),
        };
        const warnings = [...parsed.problems.filter((p) => p.route === route.key), ...containerProblems];
        const write: Planned['write'] = {
          ...base,
          routeKey: route.key,
          hostname: route.hostname,
          path: route.path ?? '',
          service: route.service,
          zone: null,
          tunnelName: route.tunnel ?? null,
          spec,
          status: 'claimant',
          statusMessage: null,
          problems: warnings,
        };
        const allowed = checkAgentHostname(db, agentId, route.hostname);
        const zone = await checkZone(route, zones);
        let outside: string | undefined;
        if (!allowed.allowed) outside = allowed.reason;
        else if (!zone.ok && zone.outside) outside = zone.message;
        if (zone.ok) write.zone = zone.zoneName;
        else if (!outside) {
          // Cloudflare could not be asked: keep the claim, show why; the full reconcile retries.
          write.status = 'error';
          write.statusMessage = zone.message;
        }
        const tunnelProblem = tunnelLabelProblem(db, agentId, route.tunnel);
        if (outside ?? tunnelProblem) {
          write.status = 'invalid';
          write.statusMessage = outside ?? tunnelProblem ?? null;
        }
        const accessKept = refusedAccessRemoval(
          db,
          { ...route, path: write.path, agentId, containerId: container.containerId, routeKey: route.key },
          now(),
        );
        if (accessKept && write.status !== 'invalid') {
          write.status = 'invalid';
          write.statusMessage = accessKept.message;
          write.spec = { ...spec, access: accessKept.access };
        }
        planned.push({ write, ...(outside ? { outside } : {}) });
      }
      for (const route of sleeping ? [] : parsed.invalidRoutes) {
        planned.push({
          write: {
            ...base,
            routeKey: route.key,
            hostname: route.hostname ?? null,
            path: '',
            service: null,
            zone: null,
            tunnelName: null,
            spec: { dns: true, cleanup: true, source: route.source },
            status: 'invalid',
            statusMessage: errorMessages(route.problems) || 'the labels of this route are invalid',
            problems: [...route.problems, ...containerProblems],
          },
        });
      }
    }
    return planned;
  }

  function fingerprints(
    hostnames: Iterable<string>,
    at: Date,
  ): Map<number, { route: RouteRecord; print: string | null }> {
    const out = new Map<number, { route: RouteRecord; print: string | null }>();
    for (const hostname of new Set(hostnames)) {
      for (const route of listRoutes(db, { hostname })) {
        out.set(route.id, { route, print: cloudFingerprint(db, route, at) });
      }
    }
    return out;
  }

  /** Targets whose desired state differs between two fingerprint sets, with the changed hostnames. */
  function changedTargets(
    before: Map<number, { route: RouteRecord; print: string | null }>,
    after: Map<number, { route: RouteRecord; print: string | null }>,
  ): TargetChanges {
    const changes: TargetChanges = new Map();
    for (const id of new Set([...before.keys(), ...after.keys()])) {
      const old = before.get(id);
      const next = after.get(id);
      if ((old?.print ?? null) === (next?.print ?? null)) continue;
      for (const entry of [old, next]) if (entry) addRouteTargets(db, changes, entry.route);
    }
    return changes;
  }

  function write(planned: Planned, existing: RouteRecord | undefined, replicas: number, at: Date): void {
    const iso = at.toISOString();
    const sameHostname =
      existing !== undefined &&
      existing.hostname === planned.write.hostname &&
      existing.path === planned.write.path;
    const status: RouteStatus =
      planned.write.status !== 'claimant'
        ? planned.write.status
        : existing && sameHostname && (existing.status === 'error' || existing.status === 'conflict')
          ? existing.status // the last sync's verdict stands until the next sync
          : 'active';
    const statusMessage =
      planned.write.status === 'claimant' && status === existing?.status
        ? existing.statusMessage
        : planned.write.statusMessage;
    // A successor (recreate, or another replica) takes the row over: remember whom it replaced.
    const replaced =
      existing && existing.containerId !== planned.write.containerId
        ? [
            { containerId: existing.containerId, containerName: existing.containerName, replacedAt: iso },
            ...existing.replaced,
          ].slice(0, REPLACED_KEPT)
        : (existing?.replaced ?? []);
    const route: RouteWrite = {
      ...planned.write,
      replicas,
      replaced,
      status,
      statusMessage,
      deleteAfter: null,
      // A route keeps its claim through a restart; a new hostname is a new claim.
      claimedAt: existing && sameHostname ? existing.claimedAt : iso,
    };
    let id = existing?.id;
    if (existing) updateRoute(db, existing.id, route, iso);
    else id = insertRoute(db, route, iso);
    if (id === undefined) return;
    if (planned.outside && route.hostname) {
      openConflict(
        db,
        {
          kind: 'outside_allowlist',
          hostname: route.hostname,
          path: route.path,
          routeId: id,
          holderRouteId: null,
          message: planned.outside,
        },
        iso,
      );
    } else {
      resolveConflicts(db, id, iso, ['outside_allowlist']);
    }
    if (!sameHostname && existing) resolveConflicts(db, id, iso);
  }

  /**
   * A route no running container serves. With no successor it stays published for the grace
   * period (a restart inside it changes nothing at Cloudflare); when its identity still runs, the
   * successor's labels no longer ask for it, so it ends now. Returns the route if it ended now.
   */
  function endServing(route: RouteRecord, succeeded: boolean, at: Date): RouteRecord | undefined {
    if (route.status === 'invalid') {
      deleteRoute(db, route.id); // nothing of it was ever published
      return undefined;
    }
    if (route.status === 'revoked') return undefined;
    if (route.status === 'pending_deletion' && !succeeded) return undefined;
    // Ended already (an expired row waits to be forgotten): ending it again would move its deadline.
    if (
      route.status === 'pending_deletion' &&
      route.deleteAfter !== null &&
      route.deleteAfter <= at.toISOString()
    )
      return undefined;
    const deleteAfter = succeeded
      ? at.toISOString()
      : new Date(at.getTime() + deps.graceSeconds * 1000).toISOString();
    const ended: RouteRecord = {
      ...route,
      status: 'pending_deletion',
      statusMessage: succeeded
        ? `container ${route.containerName} was replaced by one whose labels no longer ask for this route`
        : `container stopped; removed after ${deleteAfter} unless it starts again`,
      deleteAfter,
    };
    updateRoute(
      db,
      route.id,
      { ...ended, spec: readRouteSpec(route.spec), problems: route.problems as LabelProblem[] },
      at.toISOString(),
    );
    return succeeded ? ended : undefined;
  }

  /**
   * Routes whose time ran out: a `cleanup=false` route leaves its row and becomes a retained route
   * (its objects stay, still owned and maintained); a `cleanup=true` one stays as an expired row,
   * carried by nothing, until `forgetExpiredRoutes` drops it once Cloudflare caught up.
   */
  function retire(expired: readonly RouteRecord[], iso: string): void {
    if (expired.length === 0) return;
    const retained = listRetainedRoutes(db);
    for (const route of expired) {
      const spec = readRouteSpec(route.spec);
      if (spec.cleanup) continue;
      const tunnelId = routeTunnelId(db, route);
      const holder = !openConflictKinds(db, route.id).includes('hostname_claimed');
      if (holder && route.hostname && route.service && tunnelId) {
        retained.push({
          id: newRetainedRouteId(),
          agentId: route.agentId,
          containerName: route.containerName,
          hostname: route.hostname,
          path: route.path,
          service: route.service,
          zone: route.zone,
          tunnelId,
          spec,
          retainedAt: iso,
        });
      }
      deleteRoute(db, route.id);
    }
    saveRetainedRoutes(db, retained);
  }

  /**
   * The identities (services) whose routes a change of these containers can move: theirs now and
   * before (a renamed container's old name is an identity too), closed over the rows those
   * identities' containers hold under another identity (a renamed replica keeps its own row,
   * which it takes before any other) and those rows' identities in turn.
   */
  function identitiesOf(
    changes: readonly ContainerChange[],
    containers: readonly ContainerRecord[],
    routes: readonly RouteRecord[],
  ): Set<string> {
    const changed = new Set(changes.map((change) => change.containerId));
    const identities = new Set<string>();
    for (const container of containers)
      if (changed.has(container.containerId)) identities.add(routeIdentity(container));
    for (const { before } of changes) if (before) identities.add(routeIdentity(before));
    for (let grew = true; grew; ) {
      grew = false;
      const members = new Set(
        containers.filter((c) => identities.has(routeIdentity(c))).map((c) => c.containerId),
      );
      for (const route of routes) {
        if (!members.has(route.containerId) || identities.has(route.identity)) continue;
        identities.add(route.identity);
        grew = true;
      }
    }
    return identities;
  }

  /**
   * The `onContainersChanged` hook: recomputes the agent's routes from its containers, settles
   * hostname claims, and tells the reconciler which tunnels and zones need a sync. With
   * `changes`, only the routes of the changed containers' identities are planned: a route's
   * server, replicas and claim depend only on its identity's containers and its hostname's
   * other routes, so the agent's other services are left as they are.
   */
  async function syncAgentRoutes(
    agentId: string,
    options: { notify?: boolean; changes?: readonly ContainerChange[] } = {},
  ): Promise<SyncTarget[]> {
    const agent = findAgent(db, agentId);
    // A revoked agent's routes were marked by the revocation and stay as they are.
    if (!agent || agent.status === 'revoked') return [];
    const containers = listContainers(db, agentId);
    const scope = options.changes
      ? identitiesOf(options.changes, containers, listRoutes(db, { agentId }))
      : undefined;
    const inScope = (identity: string) => scope === undefined || scope.has(identity);
    const planned = await plan(
      agentId,
      containers.filter((container) => inScope(routeIdentity(container))),
    );
    const runningIdentities = new Set(
      containers.filter((c) => SERVING_STATES.has(c.state)).map((c) => routeIdentity(c)),
    );
    const at = now();
    const changes = db.transaction(() => {
      const existing = listRoutes(db, { agentId }).filter((route) => inScope(route.identity));
      const hostnames = new Set<string>();
      for (const route of existing) if (route.hostname) hostnames.add(route.hostname);
      for (const p of planned) if (p.write.hostname) hostnames.add(p.write.hostname);
      const before = fingerprints(hostnames, at);
      const servers = assignServers(
        planned.map((p) => ({ ...p.write, planned: p })),
        existing,
        runningIdentities,
      );
      for (const { server, existing: row, replicas } of servers.assignments) {
        write(server.planned, row, replicas, at);
      }
      const ended = servers.orphans.flatMap(({ route, succeeded }) => endServing(route, succeeded, at) ?? []);
      retire(ended, at.toISOString());
      resolveClaims(db, hostnames, at);
      return changedTargets(before, fingerprints(hostnames, at));
    })();
    if (changes.size > 0 && options.notify !== false) {
      logger.debug({ agentId, targets: [...changes.keys()] }, 'desired routes changed');
      await deps.onTargetsChanged(changes);
    }
    return [...changes.keys()];
  }

  /** The agent was revoked: its hostnames go to the next claimants, its objects are removed. */
  async function releaseAgentRoutes(agentId: string): Promise<SyncTarget[]> {
    const at = now();
    const changes = db.transaction(() => {
      const routes = listRoutes(db, { agentId });
      // Its retained (cleanup=false) routes go too: they were served by its tunnel, now deleted, and
      // would otherwise keep a record and an Access app for a hostname nothing serves any more.
      const retained = listRetainedRoutes(db);
      const released = retained.filter((kept) => kept.agentId === agentId);
      const hostnames = [
        ...routes.flatMap((r) => (r.hostname ? [r.hostname] : [])),
        ...released.map((kept) => kept.hostname),
      ];
      const before = fingerprints(hostnames, at);
      if (released.length > 0)
        saveRetainedRoutes(
          db,
          retained.filter((kept) => kept.agentId !== agentId),
        );
      resolveClaims(db, hostnames, at);
      const after = fingerprints(hostnames, at);
      const changed = changedTargets(before, after);
      // The revoked routes no longer count, whatever they counted for before.
      for (const route of routes) addRouteTargets(db, changed, route);
      return changed;
    })();
    if (changes.size > 0) await deps.onTargetsChanged(changes);
    return [...changes.keys()];
  }

  /** Ends grace periods that ran out (see `retire`). Returns the targets to sync. */
  function expireGracePeriods(): SyncTarget[] {
    const at = now();
    const iso = at.toISOString();
    return db.transaction(() => {
      const expired = listRoutes(db, { status: 'pending_deletion' }).filter(
        (r) => r.deleteAfter !== null && r.deleteAfter <= iso,
      );
      if (expired.length === 0) return [];
      const hostnames = expired.flatMap((r) => (r.hostname ? [r.hostname] : []));
      // "Before" is judged just before the deadline: these routes were carried until now.
      const earliest = Math.min(...expired.map((r) => Date.parse(r.deleteAfter ?? iso)));
      const before = fingerprints(hostnames, new Date(earliest - 1));
      retire(expired, iso);
      resolveClaims(db, hostnames, at);
      return [...changedTargets(before, fingerprints(hostnames, at)).keys()];
    })();
  }

  /**
   * Drops expired `cleanup=true` routes whose targets all synced, and the `removed` containers left
   * without routes. Called by the reconciler after a full sync.
   */
  function forgetExpiredRoutes(syncedTargets: ReadonlySet<SyncTarget>): number {
    const iso = now().toISOString();
    return db.transaction(() => {
      let dropped = 0;
      // By index: this runs every few minutes, and the fleet's other routes are not concerned.
      for (const route of listRoutes(db, { status: 'pending_deletion' })) {
        const expired = route.deleteAfter !== null && route.deleteAfter <= iso;
        // A cleanup=false route whose deadline passed after this reconcile's expireGracePeriods
        // becomes a retained route at the next one: dropping its row here would lose it.
        if (!expired || !readRouteSpec(route.spec).cleanup) continue;
        if (!routeTargets(db, route).every((t) => syncedTargets.has(t))) continue;
        deleteRoute(db, route.id);
        dropped++;
      }
      for (const { agentId, containerId } of listUnroutedRemovedContainers(db)) {
        deleteContainer(db, agentId, containerId);
      }
      return dropped;
    })();
  }

  return { syncAgentRoutes, releaseAgentRoutes, expireGracePeriods, forgetExpiredRoutes };
}
