import {
  type AccessPolicyResponse,
  ADMIN_API_PREFIX,
  type AgentActionResponse,
  type AgentDetailResponse,
  type AgentView,
  type AuditPage,
  accessPolicyParamsSchema,
  agentIdParamsSchema,
  auditQuerySchema,
  type CloudflareBudgetResponse,
  type CreateKeyResponse,
  conflictsQuerySchema,
  createAccessPolicyRequestSchema,
  createKeyRequestSchema,
  type FleetCloudflaredResponse,
  type KeyView,
  keyIdParamsSchema,
  type ListAccessPoliciesResponse,
  type ListAgentsResponse,
  type ListConflictsResponse,
  type ListKeysResponse,
  type ListRoutesResponse,
  type PublicRoutesResponse,
  type PutCloudflaredResponse,
  parseOrThrow,
  putCloudflaredRequestSchema,
  RETAINED_STATUS,
  type ReconcileResponse,
  type RevokeKeyResponse,
  type RotateAllResponse,
  retainedRouteParamsSchema,
  routesQuerySchema,
  updateAccessPolicyRequestSchema,
} from '@tunnelfleet/common';
import { type Response, Router } from 'express';
import type { AccessPolicyService } from '../access/access-policy-service.js';
import type { AgentService } from '../agents/agent-service.js';
import { agentTunnelName } from '../agents/agent-service.js';
import type { AgentState, HeartbeatStore } from '../agents/heartbeats.js';
import type { MasterHooks } from '../agents/ports.js';
import { requestReconcile } from '../reconciler/request-reconcile.js';
import { listPublicRoutes } from '../routes/public-routes.js';
import type { RetainedRouteService } from '../routes/retained-route-service.js';
import { type AgentKeyRecord, listAgentKeys } from '../store/agent-keys.js';
import { type AgentRecord, findAgentByKey, listAgents } from '../store/agents.js';
import { listAudit } from '../store/audit-log.js';
import type { CloudflaredConfig } from '../store/cloudflared-configs.js';
import { listConflicts } from '../store/conflicts.js';
import { listContainers } from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { findAgentTunnel, findTunnelByName } from '../store/tunnels.js';
import { adminAuthentication } from './authentication.js';
import type { FailedAuthLimiter } from './failed-auth-limiter.js';
import { jsonBody } from './json-body.js';

/** Sends a body typed by the admin API's response schema (`@tunnelfleet/common`). */
function send<T>(res: Response, status: number, body: T): void {
  res.status(status).json(body);
}

export interface AdminRouterDeps {
  db: SqliteDatabase;
  limiter: FailedAuthLimiter;
  adminTokenHash: string;
  agents: AgentService;
  heartbeats: HeartbeatStore;
  hooks: Pick<MasterHooks, 'requestReconcile'>;
  accessPolicies: AccessPolicyService;
  retainedRoutes: RetainedRouteService;
  /** `REQUIRE_ACCESS`, shown with the public-routes report. */
  requireAccess: boolean;
  /** Clock of grace periods: whether a stopped container's route is still served. */
  now: () => Date;
  /** The Cloudflare budget's backlog and the drift checks' pacing. */
  cloudflareBudget: () => CloudflareBudgetResponse;
}

/** Never exposes the hash: a key is shown by id, name and settings only. */
function keyView(db: SqliteDatabase, key: AgentKeyRecord): KeyView {
  const { secretHash: _hash, ...view } = key;
  return { ...view, agentId: findAgentByKey(db, key.id)?.id ?? null };
}

/** What the agent's last heartbeat says its cloudflared runs. */
function runningCloudflared(state: AgentState | null): AgentView['cloudflared'] {
  if (!state) return null;
  const { cloudflared } = state;
  return {
    image: cloudflared.image ?? null,
    version: cloudflared.version ?? null,
    connectorId: cloudflared.connectorId ?? null,
    configVersion: cloudflared.configVersion ?? null,
  };
}

function configView(config: CloudflaredConfig | undefined) {
  return config ?? { image: null, settings: {}, updatedAt: null };
}

/**
 * Routes under `/api/v1/admin`: each parses its input with the schemas of `@tunnelfleet/common`,
 * calls a service (which audits the change with actor `admin` and tells the reconciler what
 * changed), and shapes the answer to the matching response schema.
 */
export function adminRouter(deps: AdminRouterDeps): Router {
  const { db } = deps;
  const router = Router();
  router.use(ADMIN_API_PREFIX, adminAuthentication(deps.adminTokenHash, deps.limiter));
  const p = (path: string) => `${ADMIN_API_PREFIX}${path}`;

  async function agentViews(agents: AgentRecord[]): Promise<AgentView[]> {
    const seen = await deps.heartbeats.lastSeen(agents.map((a) => a.id));
    const states = await Promise.all(agents.map((a) => deps.heartbeats.lastState(a.id)));
    return agents.map(({ reportSequence: _s, snapshotFingerprint: _f, commandVersion: _v, ...agent }, i) => {
      const lastSeen = seen.get(agent.id);
      return {
        ...agent,
        cloudflared: runningCloudflared(states[i] ?? null),
        tunnelStatus: agent.pausedAt === null ? 'running' : 'paused',
        online: agent.status !== 'revoked' && deps.heartbeats.isOnline(lastSeen),
        lastSeenAt: lastSeen === undefined ? agent.lastSeenAt : new Date(lastSeen).toISOString(),
      };
    });
  }

  router.post(p('/keys'), jsonBody(), (req, res) => {
    const body = parseOrThrow(createKeyRequestSchema, req.body, 'key body');
    const { key, record } = deps.agents.createKey(body, 'admin');
    send<CreateKeyResponse>(res, 201, { key, record: keyView(db, record) });
  });

  router.get(p('/keys'), (_req, res) => {
    send<ListKeysResponse>(res, 200, { keys: listAgentKeys(db).map((key) => keyView(db, key)) });
  });

  router.post(p('/keys/:id/revoke'), async (req, res) => {
    const { id } = parseOrThrow(keyIdParamsSchema, { ...req.params }, 'path');
    send<RevokeKeyResponse>(res, 200, { key: keyView(db, await deps.agents.revokeKey(id, 'admin')) });
  });

  router.get(p('/agents'), async (_req, res) => {
    send<ListAgentsResponse>(res, 200, { agents: await agentViews(listAgents(db)) });
  });

  router.get(p('/agents/:id'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const agent = deps.agents.requireAgent(id);
    const [view] = await agentViews([agent]);
    const tunnel = findAgentTunnel(db, id) ?? findTunnelByName(db, agentTunnelName(id));
    send<AgentDetailResponse>(res, 200, {
      agent: {
        ...view!,
        tunnel: tunnel ? { id: tunnel.id, name: tunnel.name, deletedAt: tunnel.deletedAt } : null,
        lastState: (await deps.heartbeats.lastState(id)) as Record<string, unknown> | null,
        containers: listContainers(db, id).map(({ containerId, name, state, updatedAt }) => ({
          containerId,
          name,
          state,
          updatedAt,
        })),
        routes: listRoutes(db, { agentId: id }).length,
        cloudflaredConfig: deps.agents.cloudflaredFor(id),
      },
    });
  });

  router.post(p('/agents/:id/approve'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.approve(id, 'admin')]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.post(p('/agents/:id/revoke'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.revoke(id, 'admin')]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.post(p('/agents/:id/pause'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.pause(id, 'admin')]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.post(p('/agents/:id/resume'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.resume(id, 'admin')]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.get(p('/cloudflared'), (_req, res) => {
    const { config, defaultImage } = deps.agents.fleetCloudflared();
    send<FleetCloudflaredResponse>(res, 200, { config: configView(config), defaultImage });
  });

  router.put(p('/cloudflared'), jsonBody(), async (req, res) => {
    const body = parseOrThrow(putCloudflaredRequestSchema, req.body, 'cloudflared body');
    send<PutCloudflaredResponse>(res, 200, await deps.agents.setCloudflared(null, body, 'admin'));
  });

  router.put(p('/agents/:id/cloudflared'), jsonBody(), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const body = parseOrThrow(putCloudflaredRequestSchema, req.body, 'cloudflared body');
    send<PutCloudflaredResponse>(res, 200, await deps.agents.setCloudflared(id, body, 'admin'));
  });

  router.post(p('/agents/rotate-secret'), async (_req, res) => {
    send<RotateAllResponse>(res, 200, { results: await deps.agents.rotateAllSecrets('admin') });
  });

  router.post(p('/agents/:id/rotate-secret'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.rotateSecret(id, 'admin')]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.delete(p('/agents/:id'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    await deps.agents.remove(id, 'admin');
    res.status(204).end();
  });

  router.get(p('/routes'), (req, res) => {
    const { status, ...filter } = parseOrThrow(routesQuerySchema, { ...req.query }, 'query');
    send<ListRoutesResponse>(res, 200, {
      routes:
        status === RETAINED_STATUS
          ? []
          : listRoutes(db, { ...filter, ...(status ? { status } : {}) }).map(
              ({ spec: _spec, ...route }) => route,
            ),
      retained: status === undefined || status === RETAINED_STATUS ? deps.retainedRoutes.list(filter) : [],
    });
  });

  router.get(p('/routes/public'), (_req, res) => {
    send<PublicRoutesResponse>(res, 200, {
      requireAccess: deps.requireAccess,
      routes: listPublicRoutes(db, deps.now()),
    });
  });

  router.delete(p('/routes/retained/:id'), async (req, res) => {
    const { id } = parseOrThrow(retainedRouteParamsSchema, { ...req.params }, 'path');
    await deps.retainedRoutes.remove(id, 'admin');
    res.status(204).end();
  });

  router.get(p('/conflicts'), (req, res) => {
    const { includeResolved } = parseOrThrow(conflictsQuerySchema, { ...req.query }, 'query');
    send<ListConflictsResponse>(res, 200, {
      conflicts: listConflicts(db, { includeResolved: includeResolved === 'true' }),
    });
  });

  router.post(p('/reconcile'), async (_req, res) => {
    const { jobId } = await requestReconcile(deps, 'admin');
    send<ReconcileResponse>(res, 202, { accepted: true, ...(jobId ? { jobId } : {}) });
  });

  router.get(p('/cloudflare/budget'), (_req, res) => {
    send<CloudflareBudgetResponse>(res, 200, deps.cloudflareBudget());
  });

  router.get(p('/audit'), (req, res) => {
    send<AuditPage>(res, 200, listAudit(db, parseOrThrow(auditQuerySchema, { ...req.query }, 'query')));
  });

  router.get(p('/access-policies'), (_req, res) => {
    send<ListAccessPoliciesResponse>(res, 200, { policies: deps.accessPolicies.list() });
  });

  router.post(p('/access-policies'), jsonBody(), async (req, res) => {
    const body = parseOrThrow(createAccessPolicyRequestSchema, req.body, 'access policy body');
    send<AccessPolicyResponse>(res, 201, { policy: await deps.accessPolicies.create(body, 'admin') });
  });

  router.get(p('/access-policies/:id'), (req, res) => {
    const { id } = parseOrThrow(accessPolicyParamsSchema, { ...req.params }, 'path');
    send<AccessPolicyResponse>(res, 200, { policy: deps.accessPolicies.get(id) });
  });

  router.put(p('/access-policies/:id'), jsonBody(), async (req, res) => {
    const { id } = parseOrThrow(accessPolicyParamsSchema, { ...req.params }, 'path');
    const body = parseOrThrow(updateAccessPolicyRequestSchema, req.body, 'access policy body');
    send<AccessPolicyResponse>(res, 200, { policy: await deps.accessPolicies.update(id, body, 'admin') });
  });

  router.delete(p('/access-policies/:id'), async (req, res) => {
    const { id } = parseOrThrow(accessPolicyParamsSchema, { ...req.params }, 'path');
    await deps.accessPolicies.remove(id, 'admin');
    res.status(204).end();
  });

  return router;
}
