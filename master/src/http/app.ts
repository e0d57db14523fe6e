import type { TrustProxy } from '@tunnelfleet/common';
import express, { type Express } from 'express';
import type { Logger } from 'pino';
import { type AdminRouterDeps, adminRouter } from './admin-router.js';
import { type AgentRouterDeps, agentRouter } from './agent-router.js';
import { errorHandler, notFound } from './error-handling.js';
import { type HealthRouterDeps, healthRouter } from './health-router.js';
import { buildOpenApiDocument, OPENAPI_PATH } from './openapi.js';

interface HttpAppDeps {
  agent: Omit<AgentRouterDeps, 'limiter' | 'logger'>;
  admin: Omit<AdminRouterDeps, 'limiter'>;
  health: HealthRouterDeps;
  limiter: AgentRouterDeps['limiter'];
  logger: Logger;
  /**
   * Express `trust proxy` (`TRUST_PROXY`): set it when a TLS proxy sits in front of the master, so
   * failed authentications are counted per client, not per proxy. Default: trust no proxy.
   */
  trustProxy?: TrustProxy;
}

export function createHttpApp(deps: HttpAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy ?? false);
  const openApi = buildOpenApiDocument();
  app.get(OPENAPI_PATH, (_req, res) => {
    res.json(openApi);
  });
  app.use(healthRouter(deps.health));
  app.use(agentRouter({ ...deps.agent, limiter: deps.limiter, logger: deps.logger }));
  app.use(adminRouter({ ...deps.admin, limiter: deps.limiter }));
  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}
