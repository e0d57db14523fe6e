import { ADMIN_API_PREFIX, type TrustProxy } from '@tunnelfleet/common';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { AlertService } from '../alerts/alert-service.js';
import type { FleetEventsChannel } from '../redis/fleet-events-channel.js';
import type { SessionService } from '../sessions/session-service.js';
import { type AdminRouterDeps, adminRouter } from './admin-router.js';
import { type AgentRouterDeps, agentRouter } from './agent-router.js';
import { alertsRouter } from './alerts-router.js';
import { adminAuthentication } from './authentication.js';
import { dashboardAssets } from './dashboard-assets.js';
import { errorHandler, notFound } from './error-handling.js';
import { announceChanges, fleetEventsRouter } from './fleet-events.js';
import { type HealthRouterDeps, healthRouter } from './health-router.js';
import { buildOpenApiDocument, OPENAPI_PATH } from './openapi.js';
import { securityHeaders } from './security-headers.js';
import { sessionRouter } from './session-router.js';
import { type SharedTunnelsRouterDeps, sharedTunnelsRouter } from './shared-tunnels-router.js';

interface HttpAppDeps {
  agent: Omit<AgentRouterDeps, 'limiter' | 'logger'>;
  admin: AdminRouterDeps & { adminTokenHash: string };
  sessions: SessionService;
  /** The dashboard's built assets; undefined when it is not built. */
  dashboardDir: string | undefined;
  /** "The fleet changed" notices for the dashboard's event stream; without it, no stream. */
  fleetEvents?: FleetEventsChannel;
  alerts: AlertService;
  sharedTunnels: SharedTunnelsRouterDeps['sharedTunnels'];
  health: HealthRouterDeps;
  limiter: AgentRouterDeps['limiter'];
  logger: Logger;
  /**
   * Express `trust proxy` (`TRUST_PROXY`): set it when a TLS proxy sits in front of the master, so
   * failed authentications are counted per client, not per proxy. Default: trust no proxy.
   */
  trustProxy?: TrustProxy;
}

const UNTRUSTED_PROXY_WARNING_INTERVAL_MS = 10 * 60_000;

/**
 * A request with `X-Forwarded-For` while no proxy is trusted most likely came through a proxy
 * that `TRUST_PROXY` does not name: every client then shares the proxy's address, and failed
 * logins are counted for all of them together. Said at most every ten minutes, not per request.
 */
function warnOfUntrustedProxy(logger: Logger): RequestHandler {
  let warnedAt = Number.NEGATIVE_INFINITY;
  return (req, _res, next) => {
    if (
      req.headers['x-forwarded-for'] !== undefined &&
      Date.now() - warnedAt >= UNTRUSTED_PROXY_WARNING_INTERVAL_MS
    ) {
      warnedAt = Date.now();
      logger.warn(
        { remoteAddress: req.socket.remoteAddress },
        'request with X-Forwarded-For while TRUST_PROXY trusts no proxy: clients behind that proxy share its address; set TRUST_PROXY (docs/operations.md)',
      );
    }
    next();
  };
}

export function createHttpApp(deps: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  // Nothing revalidates the API's JSON answers (agents and the dashboard never send
  // If-None-Match): an ETag would only cost a hash of every body, hundreds a second at fleet
  // scale. The dashboard's files keep theirs (express.static sets its own).
  app.set('etag', false);
  app.set('trust proxy', deps.trustProxy ?? false);
  app.use(securityHeaders());
  if (deps.fleetEvents) app.use(announceChanges(deps.fleetEvents));
  if (!deps.trustProxy) app.use(warnOfUntrustedProxy(deps.logger));
  const openApi = buildOpenApiDocument();
  app.get(OPENAPI_PATH, (_req, res) => {
    res.json(openApi);
  });
  app.use(healthRouter(deps.health));
  app.use(agentRouter({ ...deps.agent, limiter: deps.limiter, logger: deps.logger }));
  app.use(sessionRouter({ sessions: deps.sessions, limiter: deps.limiter }));
  app.use(
    ADMIN_API_PREFIX,
    adminAuthentication({
      adminTokenHash: deps.admin.adminTokenHash,
      limiter: deps.limiter,
      sessions: deps.sessions,
    }),
  );
  if (deps.fleetEvents) app.use(fleetEventsRouter(deps.fleetEvents));
  app.use(adminRouter(deps.admin));
  app.use(alertsRouter({ alerts: deps.alerts }));
  app.use(sharedTunnelsRouter({ sharedTunnels: deps.sharedTunnels }));
  app.use(dashboardAssets(deps.dashboardDir));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
