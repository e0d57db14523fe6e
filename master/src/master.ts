import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  COMMAND_POLL_DEFAULT_WAIT_SECONDS,
  createLogger,
  type Logger,
  type MasterConfig,
  type TrustProxy,
} from '@tunnelfleet/common';
import type { Redis } from 'ioredis';
import { createAccessPolicyService } from './access/access-policy-service.js';
import { createAgentService } from './agents/agent-service.js';
import { type AgentTunnelProvider, type MasterHooks, noopHooks } from './agents/ports.js';
import { createRolloutDriver } from './agents/rollout-driver.js';
import { createSharedTunnelService } from './agents/shared-tunnel-service.js';
import { type AlertService, createAlertService } from './alerts/alert-service.js';
import { type CloudflareLayer, createCloudflareLayer } from './cloudflare/cloudflare-layer.js';
import { TunnelNotFoundError } from './cloudflare/errors.js';
import { type CommandGateway, createCommandGateway } from './commands/index.js';
import { createGatewayRoutesService, type GatewayRoutesService } from './gateway/gateway-routes-service.js';
import { createGatewayTrafficBook } from './gateway/gateway-traffic.js';
import {
  type AdmissionSettings,
  createAdmissionControl,
  createEventLoopProbe,
  type LoadProbe,
} from './http/admission-control.js';
import { createHttpApp } from './http/app.js';
import { findDashboardDir } from './http/dashboard-assets.js';
import { createFailedAuthLimiter } from './http/failed-auth-limiter.js';
import { createReportRateLimiter } from './http/report-rate-limiter.js';
import { adminTokenBanner, setUpAdminToken, writeAdminTokenFile } from './keys/admin-token.js';
import { createMasterMetrics } from './metrics/metrics.js';
import { createFleetOverview } from './overview/fleet-overview.js';
import type { DriftStatus } from './reconciler/drift-scheduler.js';
import { createReconciler } from './reconciler/reconciler.js';
import {
  createHeartbeatStore,
  createRedisClient,
  createRedisKeys,
  type FleetEventsChannel,
  openFleetEventsChannel,
} from './redis/index.js';
import { createConflictAdoption } from './routes/conflict-adoption.js';
import { createRetainedRouteService } from './routes/retained-route-service.js';
import { createSessionService } from './sessions/session-service.js';
import { createViewerTokenService } from './sessions/viewer-token-service.js';
import { openDatabase, type SqliteDatabase } from './store/database.js';
import { startWalCheckpointer } from './store/wal-checkpointer.js';

/** Image named in `start_tunnel` when none is configured (same default as the agent). */
const DEFAULT_CLOUDFLARED_IMAGE = 'cloudflare/cloudflared:latest';
/** Pending connections the listening socket queues (Node's default is 511). */
const ACCEPT_BACKLOG = 4096;

export interface MasterDeps {
  db: SqliteDatabase;
  /** For heartbeats and readiness; the command gateway has its own connections. */
  redis: Redis;
  /** Prefix of the heartbeat keys (`REDIS_KEY_PREFIX`): the gateway's, so one master's keys share it. */
  redisPrefix?: string;
  gateway: CommandGateway;
  cloudflare: CloudflareLayer;
  /** Webhook alerts; `startMaster` builds it first, so the Cloudflare layer can raise alerts too. */
  alerts: AlertService;
  logger: Logger;
  /** `TUNNELFLEET_ADMIN_TOKEN`; when absent one is generated at first start, into a file in `dataDir`. */
  adminToken?: string;
  /** `TUNNELFLEET_DATA_DIR`: where a generated admin token is written (mode 0600). */
  dataDir: string;
  reportIntervalSeconds: number;
  /** `COMMAND_POLL_WAIT_SECONDS`: the long-poll wait each poll's answer asks agents to use (default 25). */
  commandPollWaitSeconds?: number;
  /** `AGENT_REPORT_BURST` and `AGENT_REPORTS_PER_MINUTE`: the rate limit of each agent's reports. */
  reportRate: { burst: number; perMinute: number };
  cloudflaredImage?: string;
  /** `ROLLOUT_CHECK_INTERVAL_MS`: how often a running rollout looks at its wave (default 2000). */
  rolloutCheckIntervalMs?: number;
  /** `REQUIRE_ACCESS` (default false): reported beside the public routes. */
  requireAccess?: boolean;
  /** Seams towards the routes engine and reconciler (`startMaster` passes the reconciler's); a missing one is a no-op. */
  hooks?: Partial<MasterHooks>;
  /** Clock of heartbeats and offline detection (tests move it instead of sleeping). */
  now?: () => number;
  /** `TRUST_PROXY`; `startMaster` takes it from the configuration unless given. */
  trustProxy?: TrustProxy;
  /** `METRICS_TOKEN`: the bearer token `/metrics` requires, if any. */
  metricsToken?: string;
  /** Notices for the dashboard's event stream (`startMaster` opens it on Redis pub/sub). */
  fleetEvents?: FleetEventsChannel;
  /** `DASHBOARD_SESSION_TTL`: how long a dashboard sign-in lasts (default 12 h). */
  dashboardSessionSeconds?: number;
  /** `DASHBOARD_DIR`: the dashboard's built assets, when not the installed package's. */
  dashboardDir?: string;
  /** The drift checks' pacing (the reconciler's); none when no reconciler runs. */
  driftStatus?: () => DriftStatus;
  /** Where the banner naming the generated admin token's file goes; stdout by default. */
  printAdminToken?: (banner: string) => void;
  /** `ADMISSION_*`: when registrations and first snapshots are answered 503 `master_busy`. */
  admission: AdmissionSettings;
  /** The load admission control reads: `startMaster` measures the event loop; tests force one. */
  loadProbe: LoadProbe;
}

/**
 * The agent service's view of the Cloudflare layer: its own tunnel, created idempotently by name.
 * Making a host's tunnel and reading its token are enrolment calls (`budget-lanes.ts`); a new
 * secret and a delete are an operator's changes.
 */
function agentTunnels(cloudflare: CloudflareLayer, accountId: string): AgentTunnelProvider {
  const enrolment = cloudflare.enrolment.tunnels;
  return {
    async ensureTunnel(name) {
      const tunnel = await enrolment.ensureTunnel(name);
      return { id: tunnel.tunnelId, name: tunnel.name, accountId };
    },
    async findTunnel(name) {
      const tunnel = await enrolment.findTunnel(name);
      return tunnel && { id: tunnel.tunnelId };
    },
    tunnelToken: (tunnelId) => enrolment.getToken(tunnelId),
    recordedTunnelToken: (tunnelId) =>
      enrolment.getToken(tunnelId).catch((error: unknown) => {
        if (error instanceof TunnelNotFoundError) return undefined;
        throw error;
      }),
    rotateTunnelSecret: (tunnelId) => cloudflare.tunnels.rotateToken(tunnelId),
    deleteTunnel: (tunnelId) => cloudflare.tunnels.deleteTunnel(tunnelId),
  };
}

/**
 * Wires the master from ready-made dependencies (tests build them against a private Redis, a temp
 * SQLite file and the Cloudflare emulator). Returns the express app and the services the cron
 * and the routes engine use; `listen` serves it.
 */
export function createMaster(deps: MasterDeps & { accountId: string }) {
  const hooks: MasterHooks = { ...noopHooks, ...deps.hooks };
  const admin = setUpAdminToken(deps.db, deps.adminToken);
  if (admin.generated) {
    const file = writeAdminTokenFile(deps.dataDir, admin.generated);
    (deps.printAdminToken ?? ((text) => process.stdout.write(text)))(adminTokenBanner(file));
  }

  const heartbeats = createHeartbeatStore({
    redis: deps.redis,
    keys: createRedisKeys(deps.redisPrefix),
    intervalSeconds: deps.reportIntervalSeconds,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const limiter = createFailedAuthLimiter(deps.now ? { now: deps.now } : {});
  const reportRate = createReportRateLimiter({ ...deps.reportRate, ...(deps.now ? { now: deps.now } : {}) });
  const admission = createAdmissionControl(deps.admission, { probe: deps.loadProbe });
  const cloudflareBudget = () => ({
    tokens: deps.cloudflare.budgets(),
    drift: deps.driftStatus?.() ?? {
      configuredPeriodSeconds: 0,
      oldestCheckAgeSeconds: 0,
      tokens: [],
      targets: [],
    },
  });
  const gatewayTraffic = createGatewayTrafficBook({
    db: deps.db,
    logger: deps.logger.child({ component: 'gateway-traffic' }),
    ...(deps.now ? { now: () => new Date(deps.now!()) } : {}),
  });
  const metrics = createMasterMetrics({
    db: deps.db,
    gatewayTraffic: () => gatewayTraffic.all(),
    heartbeats,
    commandStats: () => deps.gateway.stats(),
    cloudflareCalls: () => deps.cloudflare.callCounters(),
    cloudflareBudget,
    admissionRefused: admission.refused,
  });
  const retainedRoutes = createRetainedRouteService({ db: deps.db, hooks });
  const tunnels = agentTunnels(deps.cloudflare, deps.accountId);
  const agents = createAgentService({
    db: deps.db,
    tunnels,
    commands: deps.gateway,
    heartbeats,
    hooks,
    retainedRoutes,
    alerts: deps.alerts.sink,
    logger: deps.logger.child({ component: 'agents' }),
    cloudflaredImage: deps.cloudflaredImage ?? DEFAULT_CLOUDFLARED_IMAGE,
    reportIntervalSeconds: deps.reportIntervalSeconds,
    onRolloutStarted: () => rollouts.kick(),
    onSharedMemberRevoked: (agentId) => sharedTunnels.memberRevoked(agentId),
  });
  const rollouts = createRolloutDriver({
    db: deps.db,
    heartbeats,
    async connectedConnectors(tunnelId) {
      // The connections API names each connector by the id cloudflared's `/ready` reports.
      const connectors = await deps.cloudflare.tunnels.listConnections(tunnelId);
      return connectors
        .filter((connector) => connector.connections > 0)
        .map((connector) => connector.clientId);
    },
    sendCloudflared: (agentId) => agents.sendCloudflared(agentId),
    alerts: deps.alerts.sink,
    logger: deps.logger.child({ component: 'rollouts' }),
    intervalMs: deps.rolloutCheckIntervalMs ?? 2000,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const gatewayRoutes = createGatewayRoutesService({
    db: deps.db,
    logger: deps.logger.child({ component: 'gateway-routes' }),
    send: (agentId, routes) => agents.sendGatewayRoutes(agentId, routes),
    markDirty: (targets) => hooks.markDirty(targets),
    ...(deps.now ? { now: () => new Date(deps.now!()) } : {}),
  });
  const sharedTunnels = createSharedTunnelService({
    db: deps.db,
    tunnels,
    agents,
    hooks,
    heartbeats,
    logger: deps.logger.child({ component: 'shared-tunnels' }),
  });

  const dashboardDir = findDashboardDir(deps.dashboardDir);
  if (dashboardDir === undefined) {
    deps.logger.warn('dashboard assets not found (pnpm build builds them): / answers 404, the API works');
  }
  const app = createHttpApp({
    logger: deps.logger.child({ component: 'http' }),
    dashboardDir,
    ...(deps.fleetEvents ? { fleetEvents: deps.fleetEvents } : {}),
    sessions: createSessionService({
      db: deps.db,
      adminTokenHash: admin.hash,
      ttlSeconds: deps.dashboardSessionSeconds ?? 12 * 3600,
      ...(deps.now ? { now: deps.now } : {}),
    }),
    limiter,
    ...(deps.trustProxy === undefined ? {} : { trustProxy: deps.trustProxy }),
    agent: {
      db: deps.db,
      agents,
      heartbeats,
      commands: deps.gateway,
      hooks,
      alerts: deps.alerts.sink,
      reportIntervalSeconds: deps.reportIntervalSeconds,
      commandPollWaitSeconds: deps.commandPollWaitSeconds ?? COMMAND_POLL_DEFAULT_WAIT_SECONDS,
      reportRate,
      admission,
      gatewayRoutes,
      gatewayTraffic,
    },
    admin: {
      db: deps.db,
      adminTokenHash: admin.hash,
      agents,
      rollouts,
      heartbeats,
      hooks,
      accessPolicies: createAccessPolicyService({ db: deps.db, hooks }),
      retainedRoutes,
      adoption: createConflictAdoption({
        db: deps.db,
        cloudflare: deps.cloudflare,
        hooks,
        now: () => new Date(deps.now?.() ?? Date.now()),
      }),
      viewerTokens: createViewerTokenService({ db: deps.db }),
      overview: createFleetOverview({
        db: deps.db,
        heartbeats,
        retainedRoutes,
        budgets: () => deps.cloudflare.budgets(),
      }),
      requireAccess: deps.requireAccess ?? false,
      gatewayTraffic,
      cloudflareBudget,
      now: () => new Date(deps.now?.() ?? Date.now()),
    },
    alerts: deps.alerts,
    sharedTunnels,
    health: {
      registry: metrics.exposition,
      ...(deps.metricsToken === undefined ? {} : { metricsToken: deps.metricsToken }),
      checks: {
        sqlite: () => deps.db.prepare('SELECT 1').get(),
        redis: async () => {
          if ((await deps.redis.ping()) !== 'PONG') throw new Error('PING did not answer PONG');
        },
        cloudflare: async () => {
          const failed = (await deps.cloudflare.verifyTokens()).filter((check) => !check.ok);
          if (failed.length > 0) throw new Error(failed.map((c) => `${c.name}: ${c.message}`).join('; '));
        },
      },
    },
  });

  /** Open long-polls: the gateway holds the one registry of them. */
  const openLongPolls = () => deps.gateway.stats().openPolls;
  return {
    app,
    agents,
    rollouts,
    sharedTunnels,
    gatewayRoutes,
    heartbeats,
    metrics,
    alerts: deps.alerts,
    openLongPolls,
  };
}

export type Master = ReturnType<typeof createMaster>;

export interface RunningMaster extends Master {
  server: Server;
  logger: Logger;
  /** `http://host:port` the API answers on. */
  url: string;
  db: SqliteDatabase;
  /** Stops accepting requests, ends long-polls, closes Redis, the gateway and SQLite. */
  close(): Promise<void>;
}

/** `REDIS_URL` with the password of `REDIS_PASSWORD_FILE` in it, when one is given. */
function redisUrlWithPassword(url: URL, password: string | undefined): string {
  if (password === undefined) return url.toString();
  const withPassword = new URL(url);
  withPassword.password = encodeURIComponent(password);
  return withPassword.toString();
}

/** Builds every dependency from the configuration, serves the API, and returns a handle to stop it. */
export async function startMaster(
  config: MasterConfig,
  options: Pick<MasterDeps, 'hooks' | 'now' | 'printAdminToken' | 'trustProxy'> & {
    logger?: Logger;
    /** Admission control's load reading; the event loop's own delay unless given. */
    loadProbe?: LoadProbe;
  } = {},
): Promise<RunningMaster> {
  const secrets = [
    config.cloudflareApiToken,
    ...(config.cloudflareTokens ?? []).map((entry) => entry.token),
    ...(config.adminToken ? [config.adminToken] : []),
    ...(config.metricsToken ? [config.metricsToken] : []),
    ...(config.redisPassword ? [config.redisPassword] : []),
  ];
  const logger = options.logger ?? createLogger({ name: 'master', level: config.logLevel, secrets });
  const db = openDatabase(config.dataDir);
  const checkpointer = startWalCheckpointer(db, { logger: logger.child({ component: 'store' }) });
  const redisConnection = redisUrlWithPassword(config.redisUrl, config.redisPassword);
  const redis = createRedisClient({
    connection: redisConnection,
    name: `${config.redisKeyPrefix}-master`,
    logger,
    failFast: true,
  });
  const gateway = await createCommandGateway({
    connection: redisConnection,
    prefix: config.redisKeyPrefix,
    logger: logger.child({ component: 'commands' }),
    leaseMs: 60_000,
  });
  const fleetEvents = await openFleetEventsChannel({
    connection: redisConnection,
    keys: createRedisKeys(config.redisKeyPrefix),
    logger: logger.child({ component: 'fleet-events' }),
    publisher: redis.client,
  });
  const alerts = createAlertService({
    db,
    logger: logger.child({ component: 'alerts' }),
    timeoutMs: config.alertTimeoutMs,
    retry: { maxAttempts: config.alertMaxAttempts, baseMs: config.alertRetryBaseMs, maxMs: 15 * 60_000 },
    secrets,
    ...(options.now ? { now: options.now } : {}),
  });
  const cloudflare = createCloudflareLayer(
    {
      defaultToken: config.cloudflareApiToken,
      tokens: config.cloudflareTokens ?? [],
      accountId: config.cloudflareAccountId,
      ...(config.cloudflareApiBaseUrl
        ? { baseURL: config.cloudflareApiBaseUrl.toString().replace(/\/$/, '') }
        : {}),
      budget: {
        limit: config.cloudflareCallsPerWindow,
        windowMs: config.cloudflareWindowSeconds * 1000,
        driftShare: config.driftBudgetPercent / 100,
      },
    },
    logger,
    alerts.sink,
  );
  let gatewayRoutes: GatewayRoutesService | undefined;
  const reconciler = await createReconciler({
    db,
    redisConnection,
    redisPrefix: config.redisKeyPrefix,
    cloudflare,
    logger,
    graceSeconds: config.gracePeriodSeconds,
    requireAccess: config.requireAccess,
    debounceMs: config.syncDebounceMs,
    maxWaitMs: config.syncMaxWaitMs,
    cron: config.reconcileCron,
    driftPeriodMs: config.driftCheckPeriodSeconds * 1000,
    observeReconcileSeconds: (seconds) => master.metrics.reconcileDuration.observe({ kind: 'full' }, seconds),
    onSynced: (target) => {
      fleetEvents.publish('routes');
      // The routes a host's gateway serves follow what its tunnel carries (late-bound: the master
      // is built on the reconciler's hooks; a job run before that is caught by the next sync).
      if (target.startsWith('tunnel:')) void gatewayRoutes?.tunnelSynced(target.slice('tunnel:'.length));
    },
    ...(options.now ? { now: () => new Date(options.now!()) } : {}),
  });
  const loadProbe = options.loadProbe ?? createEventLoopProbe();
  const master = createMaster({
    ...options,
    hooks: { ...reconciler.hooks, ...options.hooks },
    driftStatus: reconciler.driftStatus,
    db,
    redis: redis.client,
    redisPrefix: config.redisKeyPrefix,
    gateway,
    cloudflare,
    alerts,
    fleetEvents,
    logger,
    accountId: config.cloudflareAccountId,
    dataDir: config.dataDir,
    reportIntervalSeconds: config.reportIntervalSeconds,
    commandPollWaitSeconds: config.commandPollWaitSeconds,
    reportRate: { burst: config.agentReportBurst, perMinute: config.agentReportsPerMinute },
    admission: {
      maxEventLoopDelayMs: config.admissionMaxEventLoopDelayMs,
      maxInFlight: config.admissionMaxRegistrations,
      retryAfterSeconds: config.admissionRetryAfterSeconds,
    },
    loadProbe,
    cloudflaredImage: config.cloudflaredImage,
    rolloutCheckIntervalMs: config.rolloutCheckIntervalMs,
    requireAccess: config.requireAccess,
    dashboardSessionSeconds: config.dashboardSessionSeconds,
    ...(config.dashboardDir ? { dashboardDir: config.dashboardDir } : {}),
    trustProxy: options.trustProxy ?? config.trustProxy,
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
    ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
  });
  gatewayRoutes = master.gatewayRoutes;
  // Offline marking needs the heartbeat interval's resolution, not the full reconcile's;
  // the same tick retries tunnel deletions of revocations Cloudflare refused earlier, provisions
  // the tunnels of approved agents whose provisioning did not finish (it never waits for them),
  // and checks the Cloudflare tokens (at most once a minute: the check is cached) so a failing
  // one alerts.
  const housekeeping = setInterval(() => {
    void master.agents.provisionMissingTunnels();
    Promise.all([
      master.agents.markOfflineAgents(),
      master.agents.finishRevocations(),
      cloudflare.verifyTokens(),
    ]).catch((error: unknown) =>
      logger.warn({ err: error }, 'agent housekeeping failed; retrying next interval'),
    );
  }, config.reportIntervalSeconds * 1000);
  housekeeping.unref();

  // A fleet connecting at once (thousands of agents after a restart of the master) overflowed
  // Node's default accept queue of 511: their connects timed out and were retried. The kernel
  // caps this at net.core.somaxconn.
  const server = master.app.listen(config.port, config.host, ACCEPT_BACKLOG);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // An agent's connection idles between its answers and its next request (a long-poll is not
  // idle while held): keep it open a little longer than the agents' 30 s heartbeat interval.
  server.keepAliveTimeout = 35_000;
  server.headersTimeout = 36_000;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ port: address.port, host: config.host }, 'master listening');
  alerts.start();
  // A rollout that was running when the master stopped goes on (its wave's deadline included).
  master.rollouts.start();
  // Converge on start: after a crash or an outage, SQLite is the truth and Cloudflare is brought to it.
  reconciler.start().catch((error: unknown) => logger.error({ err: error }, 'initial reconcile failed'));
  // A registration answers before its tunnel is made: one the master stopped in the middle of is
  // made now (the agent registers again only when it restarts).
  void master.agents.provisionMissingTunnels();

  let closing: Promise<void> | undefined;
  return {
    ...master,
    server,
    db,
    logger,
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`,
    close() {
      closing ??= (async () => {
        clearInterval(housekeeping);
        await master.rollouts.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await gateway.close();
        server.closeAllConnections();
        await stopped;
        await reconciler.close();
        await alerts.close();
        await fleetEvents.close();
        await redis.close().catch(() => undefined);
        loadProbe.stop();
        await checkpointer.stop();
        db.close();
      })();
      return closing;
    },
  };
}
