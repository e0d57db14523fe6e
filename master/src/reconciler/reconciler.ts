import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import { type ScheduledTask, schedule } from 'node-cron';
import type { MasterHooks } from '../agents/ports.js';
import type { BudgetLane, LaneTicket } from '../cloudflare/budget-lanes.js';
import type { CloudflareLayer } from '../cloudflare/cloudflare-layer.js';
import type { RedisConnectionOptions } from '../redis/index.js';
import {
  ACCESS_TARGET,
  addRouteTargets,
  routeTargets,
  type SyncTarget,
  type TargetChanges,
  tunnelTarget,
  zoneTarget,
} from '../routes/route-targets.js';
import { createRoutesEngine, type RoutesEngine } from '../routes/routes-engine.js';
import { listAccessPolicies } from '../store/access-policies.js';
import { listAgents, listApprovedAgentIdsWithoutTunnel } from '../store/agents.js';
import type { SqliteDatabase } from '../store/database.js';
import { listOwnedApps, listOwnedRecordZones, listOwnedRuleTunnels } from '../store/owned-objects.js';
import { listAgentIdsWithUnsettledRoutes, listRoutes } from '../store/routes.js';
import { SETTING_KEYS, setSetting } from '../store/settings.js';
import { desiredTargets, readDesiredState } from './desired-state.js';
import { createDriftScheduler, type DriftScheduler, type DriftStatus } from './drift-scheduler.js';
import { createPendingZoneNames } from './pending-zone-names.js';
import { createRouteOutcomes } from './route-outcomes.js';
import { syncAccess } from './sync-access.js';
import type { SyncContext } from './sync-context.js';
import { createSyncQueue, type SyncQueue } from './sync-queue.js';
import { syncTunnel } from './sync-tunnel.js';
import { syncZone } from './sync-zone.js';

export interface ReconcilerOptions {
  db: SqliteDatabase;
  redisConnection: RedisConnectionOptions;
  /** Prefix of the sync queue's Redis keys (`REDIS_KEY_PREFIX`, default "tunnelfleet"). */
  redisPrefix?: string;
  cloudflare: CloudflareLayer;
  logger: Logger;
  /** Grace period of a stopped container's routes (GRACE_PERIOD_SECONDS, default 600). */
  graceSeconds?: number;
  /** REQUIRE_ACCESS: a route without Access that is not marked public is invalid (default false). */
  requireAccess?: boolean;
  /** A target syncs once quiet this long (default 150 ms)… */
  debounceMs?: number;
  /** …or this long after its first unsynced change (default 2 s). */
  maxWaitMs?: number;
  /**
   * Schedule of the housekeeping reconcile (RECONCILE_CRON, default every 5 minutes): every agent's
   * routes and the grace periods, no Cloudflare read beyond the targets of expired routes; null: none.
   */
  cron?: string | null;
  /** Each tunnel, zone and the Access scope is checked for drift at most this often; null: never. */
  driftPeriodMs?: number | null;
  /** Told how long each full reconcile took (e.g. a prom-client Histogram's `observe`). */
  observeReconcileSeconds?: (seconds: number) => void;
  /** Told when a target's sync with Cloudflare finished: route statuses may have changed. */
  onSynced?: (target: SyncTarget) => void;
  /** Clock of grace periods (tests move it instead of waiting ten minutes). */
  now?: () => Date;
}

export interface ReconcileSummary {
  targets: number;
  failed: { target: SyncTarget; message: string }[];
  expiredRoutesDropped: number;
  seconds: number;
}

export interface Reconciler {
  engine: RoutesEngine;
  /** The seams `createMaster` takes as `hooks`. */
  hooks: Pick<
    MasterHooks,
    'onContainersChanged' | 'onAgentRevoked' | 'onAgentApproved' | 'markDirty' | 'requestReconcile'
  >;
  /** Syncs one target now (what a `cf-sync` job runs). */
  syncTarget(target: SyncTarget): Promise<void>;
  /**
   * Full reconcile: every agent's routes, grace periods, every tunnel, zone and Access app, in the
   * budget's `sweep` lane (changes go first).
   */
  reconcileNow(): Promise<ReconcileSummary>;
  /**
   * The cron's pass: grace periods that ran out, and the hosts whose routes may settle without a
   * report (drift is the drift scheduler's).
   */
  housekeep(): Promise<ReconcileSummary>;
  /** The drift checks' pacing: the period each target gets and the oldest check's age. */
  driftStatus(): DriftStatus;
  /** Runs a full reconcile (convergence after a restart or a crash), then schedules the cron. */
  start(): Promise<ReconcileSummary>;
  close(): Promise<void>;
}

/**
 * The reconciler: routes engine + one `cf-sync` queue and worker + the periodic full reconcile.
 * SQLite is the source of truth; every sync re-reads the whole desired state of its target and
 * lets the layer diff it against Cloudflare, so a sync repeated, retried or run after a crash
 * converges to the same state and writes nothing when nothing differs.
 */
export async function createReconciler(options: ReconcilerOptions): Promise<Reconciler> {
  const { db, cloudflare } = options;
  const logger = options.logger.child({ component: 'reconciler' });
  const now = options.now ?? (() => new Date());
  const mutex = createKeyedMutex();
  const ctx: SyncContext = {
    db,
    cloudflare,
    logger,
    outcomes: createRouteOutcomes(db, (route) => {
      void markDirty(routeTargets(db, route));
    }),
    now,
    markDirty: (targets) => markDirty(targets),
  };
  let queue: SyncQueue | undefined;

  const engine = createRoutesEngine({
    db,
    logger,
    graceSeconds: options.graceSeconds ?? 600,
    requireAccess: options.requireAccess ?? false,
    now,
    resolveZone: (hostname, zone) => cloudflare.resolveZone(hostname, zone),
    onTargetsChanged: (changes) => markDirty([...changes.keys()], changes),
  });

  const pendingZoneNames = createPendingZoneNames();

  /**
   * Queues the targets' syncs. `hostnames`: per target, the names a change touched (the routes
   * engine knows them): a zone's queued sync is then limited to those; without them, it is whole.
   */
  async function markDirty(
    targets: readonly SyncTarget[],
    hostnames?: ReadonlyMap<SyncTarget, ReadonlySet<string>>,
  ): Promise<void> {
    for (const target of targets) {
      const ticket = background.get(target);
      if (ticket) cloudflare.lanes.promote(ticket);
      if (target.startsWith('zone:')) pendingZoneNames.add(target, hostnames?.get(target));
    }
    try {
      await queue?.enqueue(targets);
    } catch (error) {
      // Redis down: SQLite has the change, the next full reconcile applies it.
      logger.error({ err: error, targets }, 'could not enqueue cf-sync jobs');
    }
  }

  /**
   * `zoneNames`: a zone sync limited to these hostnames (undefined: the whole zone). `context`: the
   * sync's, whose Cloudflare calls are changes unless it is given one in another lane.
   */
  async function runTarget(
    target: SyncTarget,
    zoneNames?: ReadonlySet<string>,
    context: SyncContext = ctx,
  ): Promise<void> {
    if (target === ACCESS_TARGET) return syncAccess(context);
    if (target.startsWith('tunnel:')) return syncTunnel(context, target.slice('tunnel:'.length));
    return syncZone(context, target.slice('zone:'.length), zoneNames);
  }

  // Tickets of the sweep and drift work under way, by target: a change to one of these targets
  // promotes its ticket, so the change does not wait behind a check that gives way to changes.
  const background = new Map<SyncTarget, LaneTicket>();

  const syncTarget = (target: SyncTarget) =>
    mutex.run(target, async () => {
      await runTarget(target);
      options.onSynced?.(target);
    });

  /**
   * What a queued `cf-sync` job runs: a zone's sync covers the names its changes gathered while it
   * waited. Only the queue's syncs take them: a sync started elsewhere (housekeeping, a sweep, a
   * drift check) is whole, and leaves them to the job that was queued for them.
   */
  const syncQueuedTarget = (target: SyncTarget) =>
    mutex.run(target, async () => {
      const zoneNames = target.startsWith('zone:') ? pendingZoneNames.take(target) : undefined;
      try {
        await runTarget(target, zoneNames);
      } catch (error) {
        if (target.startsWith('zone:')) pendingZoneNames.giveBack(target, zoneNames);
        throw error;
      }
      options.onSynced?.(target);
    });

  /** Syncs a target with its Cloudflare calls in a lower lane; resolves to the calls it made. */
  async function syncInLane(target: SyncTarget, lane: Exclude<BudgetLane, 'change'>): Promise<number> {
    const ticket: LaneTicket = { lane, calls: 0 };
    const inLane: SyncContext = { ...ctx, cloudflare: cloudflare.inLane(ticket) };
    return mutex.run(target, async () => {
      background.set(target, ticket);
      try {
        await runTarget(target, undefined, inLane);
        options.onSynced?.(target);
      } finally {
        background.delete(target);
      }
      return ticket.calls ?? 0;
    });
  }

  queue = await createSyncQueue({
    connection: options.redisConnection,
    ...(options.redisPrefix === undefined ? {} : { prefix: options.redisPrefix }),
    logger,
    debounceMs: options.debounceMs ?? 150,
    maxWaitMs: options.maxWaitMs ?? 2_000,
    process: syncQueuedTarget,
  });

  /**
   * Every target with something desired or owned. Read by aggregate queries, not route by route:
   * the drift scheduler re-reads it every minute, on the event loop the agents' requests share.
   */
  async function allTargets(): Promise<SyncTarget[]> {
    const targets = desiredTargets(db, now());
    // Each part reads up to 10,000 rows at 10,000 hosts: the requests waiting meanwhile go between.
    await yieldToEventLoop();
    for (const tunnelId of listOwnedRuleTunnels(db)) targets.add(tunnelTarget(tunnelId));
    await yieldToEventLoop();
    for (const { hostname } of listOwnedRecordZones(db)) {
      try {
        targets.add(zoneTarget((await cloudflare.resolveZone(hostname)).zoneName));
      } catch (error) {
        logger.warn({ err: error, hostname }, 'zone of an owned DNS record not found');
      }
    }
    // Named policies are pushed to Cloudflare by the Access sync, used by a route or not.
    if (listOwnedApps(db).length > 0 || listAccessPolicies(db).length > 0) targets.add(ACCESS_TARGET);
    return [...targets].sort();
  }

  /** The agent's routes that should be carried but have no tunnel say why (no Cloudflare call). */
  function recordRoutesWithoutTunnel(agentId: string): void {
    for (const route of readDesiredState(db, now(), { agentId }).withoutTunnel) {
      const message = route.tunnelName
        ? `tunnel "${route.tunnelName}" is not known to the master`
        : `agent ${route.agentId} has no tunnel yet (approve it first)`;
      db.transaction(() =>
        ctx.outcomes.record(route, 'ingress', { status: 'error', message }, now().toISOString()),
      )();
    }
  }

  /** Agents whose routes a report changed but whose planning then failed: housekeeping plans them. */
  const planningFailed = new Set<string>();

  /**
   * The agents housekeeping plans again. Every report plans its host's changed services, so only
   * what can change without one is looked at: routes a later look may settle (a zone lookup that
   * failed, a zone added), hosts still without a tunnel, and plannings that failed. Planning all
   * 10,000 hosts of a fleet every 5 minutes cost a sixth of a core for nothing; the sweep (start-up,
   * an operator's reconcile) still plans every host.
   */
  function agentsToReplan(): Set<string> {
    return new Set([
      ...listAgentIdsWithUnsettledRoutes(db),
      ...listApprovedAgentIdsWithoutTunnel(db),
      ...planningFailed,
    ]);
  }

  let running: Promise<ReconcileSummary> | undefined;
  /**
   * `sweep`: every target, in the sweep lane (start-up and an operator's "reconcile now").
   * `housekeeping` (the cron): only the targets of routes whose grace period is over, as changes;
   * drift is the drift scheduler's, paced to its budget share.
   */
  async function fullReconcile(mode: 'sweep' | 'housekeeping'): Promise<ReconcileSummary> {
    const started = performance.now();
    // What re-reading the agents' routes changed (a claim passing to a waiting route once the
    // holder's grace period is over, say) is synced below even when the pass is only housekeeping.
    const changed: SyncTarget[] = [];
    const replanned = mode === 'sweep' ? undefined : agentsToReplan();
    for (const agent of listAgents(db)) {
      if (agent.status === 'revoked' || (replanned && !replanned.has(agent.id))) continue;
      changed.push(...(await engine.syncAgentRoutes(agent.id, { notify: false })));
      planningFailed.delete(agent.id);
      recordRoutesWithoutTunnel(agent.id);
      // SQLite calls are synchronous: give the event loop back between agents, or a fleet-wide
      // reconcile holds every heartbeat and long-poll of the API for seconds.
      await yieldToEventLoop();
    }
    const expiring = engine.expireGracePeriods();
    const targets =
      mode === 'sweep'
        ? await allTargets()
        : [...new Set([...changed, ...expiring, ...expiredRouteTargets()])].sort();
    const synced = new Set<SyncTarget>();
    const failed: ReconcileSummary['failed'] = [];
    for (const target of targets) {
      try {
        if (mode === 'sweep') await syncInLane(target, 'sweep');
        else await syncTarget(target);
        synced.add(target);
      } catch (error) {
        failed.push({ target, message: (error as Error).message });
        logger.warn({ err: error, target }, 'reconcile of a target failed; retried at the next run');
      }
    }
    const expiredRoutesDropped = engine.forgetExpiredRoutes(synced);
    const seconds = (performance.now() - started) / 1000;
    options.observeReconcileSeconds?.(seconds);
    const summary = { targets: targets.length, failed, expiredRoutesDropped, seconds };
    setSetting(db, SETTING_KEYS.lastReconcile, JSON.stringify({ at: now().toISOString(), ...summary }));
    logger.info(
      { mode, targets: targets.length, failed: failed.length, expiredRoutesDropped, seconds },
      'full reconcile done',
    );
    return summary;
  }

  /** Targets of expired cleanup routes still waiting to be forgotten (a sync of each lets them go). */
  function expiredRouteTargets(): SyncTarget[] {
    const iso = now().toISOString();
    return listRoutes(db, { status: 'pending_deletion' })
      .filter((r) => r.deleteAfter !== null && r.deleteAfter <= iso)
      .flatMap((route) => routeTargets(db, route));
  }

  function reconcileNow(mode: 'sweep' | 'housekeeping' = 'sweep'): Promise<ReconcileSummary> {
    running ??= fullReconcile(mode).finally(() => {
      running = undefined;
    });
    return running;
  }

  const drift: DriftScheduler | undefined =
    options.driftPeriodMs === null
      ? undefined
      : createDriftScheduler({
          periodMs: options.driftPeriodMs ?? 30 * 60_000,
          listTargets: allTargets,
          tokenOf: (target) =>
            cloudflare.tokenOfZone(target.startsWith('zone:') ? target.slice('zone:'.length) : undefined),
          budgetOf: (token) => {
            const budget = cloudflare.budgets().find((b) => b.token === token);
            return {
              driftCeiling: budget?.driftCeiling ?? 1,
              windowMs: (budget?.windowSeconds ?? 300) * 1000,
            };
          },
          check: (target) => syncInLane(target, 'drift'),
          logger,
        });

  let task: ScheduledTask | undefined;
  return {
    engine,
    hooks: {
      onContainersChanged: async (agentId, scope) => {
        try {
          return await engine.syncAgentRoutes(agentId, scope ?? {});
        } catch (error) {
          planningFailed.add(agentId);
          throw error;
        }
      },
      onAgentRevoked: (agentId) => engine.releaseAgentRoutes(agentId),
      onAgentApproved: async (agentId) => {
        // The plan of a route does not depend on the tunnel, except for a `tunnel` label naming
        // the agent's own tunnel, refused while that did not exist: only then plan again. The
        // snapshot just planned every other route, so a fleet enrolling plans each host once.
        if (listRoutes(db, { agentId }).some((route) => route.tunnelName !== null))
          await engine.syncAgentRoutes(agentId);
        // Its tunnel was made before this ran, so the routes' fingerprints show no change: sync
        // the targets of every route of the agent anyway, now that a tunnel can carry them (a
        // zone's sync by the agent's names: a fleet enrolling does not read each zone whole).
        const changes: TargetChanges = new Map();
        for (const route of listRoutes(db, { agentId })) addRouteTargets(db, changes, route);
        await markDirty([...changes.keys()], changes);
      },
      markDirty,
      requestReconcile: () => {
        reconcileNow().catch((error: unknown) => logger.error({ err: error }, 'full reconcile failed'));
        return {};
      },
    },
    syncTarget,
    reconcileNow: () => reconcileNow('sweep'),
    housekeep: () => reconcileNow('housekeeping'),
    driftStatus: () =>
      drift?.status() ?? { configuredPeriodSeconds: 0, oldestCheckAgeSeconds: 0, tokens: [], targets: [] },
    async start() {
      const summary = await reconcileNow('sweep');
      drift?.start();
      const cron = options.cron === undefined ? '*/5 * * * *' : options.cron;
      if (cron !== null) {
        task = schedule(cron, async () => {
          await reconcileNow('housekeeping').catch((error: unknown) =>
            logger.error({ err: error }, 'full reconcile failed'),
          );
        });
      }
      return summary;
    },
    async close() {
      await task?.destroy();
      await drift?.close();
      await running?.catch(() => undefined);
      await queue?.close();
    },
  };
}
