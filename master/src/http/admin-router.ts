import {
  type AccessPolicyResponse,
  ADMIN_API_PREFIX,
  type AdoptionPreviewResponse,
  type AdoptResponse,
  type AgentActionResponse,
  type AgentDetailResponse,
  type AgentView,
  type AuditPage,
  accessPolicyParamsSchema,
  adoptRequestSchema,
  agentIdParamsSchema,
  auditQuerySchema,
  type CloudflareBudgetResponse,
  type CreateKeyResponse,
  type CreateViewerTokenResponse,
  conflictParamsSchema,
  conflictsQuerySchema,
  createAccessPolicyRequestSchema,
  createKeyRequestSchema,
  createViewerTokenRequestSchema,
  type FleetCloudflaredResponse,
  ForbiddenError,
  type KeyView,
  keyIdParamsSchema,
  type ListAccessPoliciesResponse,
  type ListAgentsResponse,
  type ListConflictsResponse,
  type ListKeysResponse,
  type ListRolloutsResponse,
  type ListRoutesResponse,
  type ListViewerTokensResponse,
  type OverviewResponse,
  type PublicRoutesResponse,
  type PutCloudflaredResponse,
  parseOrThrow,
  putCloudflaredRequestSchema,
  RETAINED_STATUS,
  type ReconcileResponse,
  type RevokeKeyResponse,
  type RolloutResponse,
  type RotateAllResponse,
  type RouteDetailResponse,
  retainedRouteParamsSchema,
  rolloutParamsSchema,
  routeIdParamsSchema,
  routesQuerySchema,
  startRolloutRequestSchema,
  updateAccessPolicyRequestSchema,
  type ViewerTokenResponse,
  viewerTokenParamsSchema,
} from '@tunnelfleet/common';
import { type Response, Router } from 'express';
import type { AccessPolicyService } from '../access/access-policy-service.js';
import type { AgentService } from '../agents/agent-service.js';
import { agentTunnelName } from '../agents/agent-service.js';
import type { AgentState, HeartbeatStore } from '../agents/heartbeats.js';
import type { MasterHooks } from '../agents/ports.js';
import type { RolloutDriver } from '../agents/rollout-driver.js';
import { withGatewayGroups } from '../gateway/gateway-groups.js';
import type { GatewayTrafficBook } from '../gateway/gateway-traffic.js';
import { withWakeStates } from '../gateway/wake-state.js';
import type { FleetOverview } from '../overview/fleet-overview.js';
import { requestReconcile } from '../reconciler/request-reconcile.js';
import type { ConflictAdoption } from '../routes/conflict-adoption.js';
import { handOverHostname } from '../routes/hostname-hand-over.js';
import { listPublicRoutes } from '../routes/public-routes.js';
import type { RetainedRouteService } from '../routes/retained-route-service.js';
import { routeDetail } from '../routes/route-detail.js';
import { labelRouteGroups } from '../routes/route-groups.js';
import type { ViewerTokenService } from '../sessions/viewer-token-service.js';
import { type AgentKeyRecord, listAgentKeys } from '../store/agent-keys.js';
import { type AgentRecord, findAgentByKey, listAgents } from '../store/agents.js';
import { listAudit } from '../store/audit-log.js';
import type { CloudflaredConfig } from '../store/cloudflared-configs.js';
import { listConflicts } from '../store/conflicts.js';
import { listContainers } from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import { countRoutesByAgent, listRoutes, pageRoutes } from '../store/routes.js';
import { findAgentTunnel, findTunnelByName } from '../store/tunnels.js';
import { actorOf, adminCaller } from './authentication.js';
import { jsonBody } from './json-body.js';

/** Sends a body typed by the admin API's response schema (`@tunnelfleet/common`). */
export function send<T>(res: Response, status: number, body: T): void {
  res.status(status).json(body);
}

export interface AdminRouterDeps {
  db: SqliteDatabase;
  agents: AgentService;
  rollouts: Pick<RolloutDriver, 'view' | 'list' | 'abort'>;
  heartbeats: HeartbeatStore;
  hooks: Pick<MasterHooks, 'requestReconcile' | 'markDirty'>;
  accessPolicies: AccessPolicyService;
  retainedRoutes: RetainedRouteService;
  /** Settles a foreign-record conflict by adopting the record, after a diff. */
  adoption: ConflictAdoption;
  viewerTokens: ViewerTokenService;
  overview: FleetOverview;
  /** `REQUIRE_ACCESS`, shown with the public-routes report. */
  requireAccess: boolean;
  /** What each host's gateway counted per route, for the route view. */
  gatewayTraffic: Pick<GatewayTrafficBook, 'ofRoute'>;
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
 * Routes under `/api/v1/admin` (authenticated by `adminAuthentication`, mounted before them): each
 * parses its input with the schemas of `@tunnelfleet/common`, calls a service (which audits the
 * change with the caller's actor — `admin` for the token, the session for the dashboard — and
 * tells the reconciler what changed), and shapes the answer to the matching response schema.
 */
export function adminRouter(deps: AdminRouterDeps): Router {
  const { db } = deps;
  const router = Router();
  const p = (path: string) => `${ADMIN_API_PREFIX}${path}`;

  async function agentViews(agents: AgentRecord[]): Promise<AgentView[]> {
    const seen = await deps.heartbeats.lastSeen(agents.map((a) => a.id));
    const states = await Promise.all(agents.map((a) => deps.heartbeats.lastState(a.id)));
    const routeCounts = countRoutesByAgent(db);
    return agents.map(({ reportSequence: _s, snapshotFingerprint: _f, commandVersion: _v, ...agent }, i) => {
      const lastSeen = seen.get(agent.id);
      return {
        ...agent,
        cloudflared: runningCloudflared(states[i] ?? null),
        tunnelStatus: agent.pausedAt === null ? 'running' : 'paused',
        online: agent.status !== 'revoked' && deps.heartbeats.isOnline(lastSeen),
        lastSeenAt: lastSeen === undefined ? agent.lastSeenAt : new Date(lastSeen).toISOString(),
        routeCount: routeCounts.get(agent.id) ?? 0,
      };
    });
  }

  router.get(p('/overview'), async (_req, res) => {
    send<OverviewResponse>(res, 200, { overview: await deps.overview() });
  });

  router.post(p('/keys'), jsonBody(), (req, res) => {
    const body = parseOrThrow(createKeyRequestSchema, req.body, 'key body');
    const { key, record } = deps.agents.createKey(body, actorOf(res));
    send<CreateKeyResponse>(res, 201, { key, record: keyView(db, record) });
  });

  router.get(p('/keys'), (_req, res) => {
    send<ListKeysResponse>(res, 200, { keys: listAgentKeys(db).map((key) => keyView(db, key)) });
  });

  router.post(p('/keys/:id/revoke'), async (req, res) => {
    const { id } = parseOrThrow(keyIdParamsSchema, { ...req.params }, 'path');
    send<RevokeKeyResponse>(res, 200, { key: keyView(db, await deps.agents.revokeKey(id, actorOf(res))) });
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
    const [view] = await agentViews([await deps.agents.approve(id, actorOf(res))]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.post(p('/agents/:id/revoke'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.revoke(id, actorOf(res))]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.post(p('/agents/:id/pause'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.pause(id, actorOf(res))]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.post(p('/agents/:id/resume'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.resume(id, actorOf(res))]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.get(p('/cloudflared'), (_req, res) => {
    const { config, defaultImage } = deps.agents.fleetCloudflared();
    send<FleetCloudflaredResponse>(res, 200, { config: configView(config), defaultImage });
  });

  router.put(p('/cloudflared'), jsonBody(), async (req, res) => {
    const body = parseOrThrow(putCloudflaredRequestSchema, req.body, 'cloudflared body');
    const { rolloutId, ...answer } = await deps.agents.setCloudflared(null, body, actorOf(res));
    send<PutCloudflaredResponse>(res, 200, {
      ...answer,
      rollout: rolloutId ? deps.rollouts.view(rolloutId) : null,
    });
  });

  router.put(p('/agents/:id/cloudflared'), jsonBody(), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const body = parseOrThrow(putCloudflaredRequestSchema, req.body, 'cloudflared body');
    const { rolloutId: _none, ...answer } = await deps.agents.setCloudflared(id, body, actorOf(res));
    send<PutCloudflaredResponse>(res, 200, { ...answer, rollout: null });
  });

  router.get(p('/cloudflared/rollouts'), (_req, res) => {
    send<ListRolloutsResponse>(res, 200, { rollouts: deps.rollouts.list() });
  });

  router.post(p('/cloudflared/rollouts'), jsonBody(), async (req, res) => {
    const body = parseOrThrow(startRolloutRequestSchema, req.body, 'rollout body');
    const id = await deps.agents.startRollout(body, actorOf(res));
    send<RolloutResponse>(res, 201, { rollout: deps.rollouts.view(id) });
  });

  router.get(p('/cloudflared/rollouts/:id'), (req, res) => {
    const { id } = parseOrThrow(rolloutParamsSchema, { ...req.params }, 'path');
    send<RolloutResponse>(res, 200, { rollout: deps.rollouts.view(id) });
  });

  router.post(p('/cloudflared/rollouts/:id/abort'), async (req, res) => {
    const { id } = parseOrThrow(rolloutParamsSchema, { ...req.params }, 'path');
    send<RolloutResponse>(res, 200, { rollout: await deps.rollouts.abort(id, actorOf(res)) });
  });

  router.post(p('/agents/rotate-secret'), async (_req, res) => {
    send<RotateAllResponse>(res, 200, { results: await deps.agents.rotateAllSecrets(actorOf(res)) });
  });

  router.post(p('/agents/:id/rotate-secret'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.rotateSecret(id, actorOf(res))]);
    send<AgentActionResponse>(res, 200, { agent: view! });
  });

  router.delete(p('/agents/:id'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    await deps.agents.remove(id, actorOf(res));
    res.status(204).end();
  });

  router.get(p('/routes'), (req, res) => {
    const { status, agentId, hostname, ...page } = parseOrThrow(routesQuerySchema, { ...req.query }, 'query');
    const filter = { ...(agentId ? { agentId } : {}), ...(hostname ? { hostname } : {}) };
    const found =
      status === RETAINED_STATUS
        ? { routes: [], total: 0 }
        : pageRoutes(db, { ...filter, ...page, ...(status ? { status } : {}) });
    const groups =
      'groups' in found && found.groups && page.group
        ? labelRouteGroups(db, page.group, found.groups)
        : undefined;
    send<ListRoutesResponse>(res, 200, {
      routes: withGatewayGroups(db, withWakeStates(db, found.routes), deps.now()).map(
        ({ spec: _spec, ...route }) => route,
      ),
      total: found.total,
      ...(groups ? { groups } : {}),
      retained: status === undefined || status === RETAINED_STATUS ? deps.retainedRoutes.list(filter) : [],
    });
  });

  router.get(p('/routes/:id'), (req, res, next) => {
    // `/routes/public` and `/routes/retained/…` are their own endpoints, answered below.
    if (!/^\d+$/.test(String(req.params.id))) return next();
    const { id } = parseOrThrow(routeIdParamsSchema, { ...req.params }, 'path');
    send<RouteDetailResponse>(res, 200, {
      detail: routeDetail(db, id, deps.now(), deps.gatewayTraffic.ofRoute(id)),
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
    await deps.retainedRoutes.remove(id, actorOf(res));
    res.status(204).end();
  });

  router.get(p('/conflicts'), (req, res) => {
    const { includeResolved } = parseOrThrow(conflictsQuerySchema, { ...req.query }, 'query');
    send<ListConflictsResponse>(res, 200, {
      conflicts: listConflicts(db, { includeResolved: includeResolved === 'true' }),
    });
  });

  router.post(p('/conflicts/:id/hand-over'), async (req, res) => {
    const { id } = parseOrThrow(conflictParamsSchema, { ...req.params }, 'path');
    await handOverHostname(deps, id, actorOf(res));
    send<ListConflictsResponse>(res, 200, { conflicts: listConflicts(db) });
  });

  router.get(p('/conflicts/:id/adoption'), async (req, res) => {
    const { id } = parseOrThrow(conflictParamsSchema, { ...req.params }, 'path');
    send<AdoptionPreviewResponse>(res, 200, { adoption: await deps.adoption.preview(id) });
  });

  router.post(p('/conflicts/:id/adopt'), jsonBody(), async (req, res) => {
    const { id } = parseOrThrow(conflictParamsSchema, { ...req.params }, 'path');
    const { fingerprint } = parseOrThrow(adoptRequestSchema, req.body, 'adopt body');
    const adopted = await deps.adoption.adopt(id, fingerprint, actorOf(res));
    send<AdoptResponse>(res, 200, { adopted, conflicts: listConflicts(db) });
  });

  router.post(p('/reconcile'), async (_req, res) => {
    const { jobId } = await requestReconcile(deps, actorOf(res));
    send<ReconcileResponse>(res, 202, { accepted: true, ...(jobId ? { jobId } : {}) });
  });

  router.get(p('/cloudflare/budget'), (_req, res) => {
    send<CloudflareBudgetResponse>(res, 200, deps.cloudflareBudget());
  });

  router.get(p('/audit'), (req, res) => {
    send<AuditPage>(res, 200, listAudit(db, parseOrThrow(auditQuerySchema, { ...req.query }, 'query')));
  });

  router.post(p('/viewer-tokens'), jsonBody(), (req, res) => {
    const { name } = parseOrThrow(createViewerTokenRequestSchema, req.body, 'viewer token body');
    send<CreateViewerTokenResponse>(res, 201, deps.viewerTokens.create(name, actorOf(res)));
  });

  router.get(p('/viewer-tokens'), (_req, res) => {
    if (adminCaller(res).role !== 'admin') throw new ForbiddenError('only an admin sees viewer tokens');
    send<ListViewerTokensResponse>(res, 200, { tokens: deps.viewerTokens.list() });
  });

  router.post(p('/viewer-tokens/:id/revoke'), (req, res) => {
    const { id } = parseOrThrow(viewerTokenParamsSchema, { ...req.params }, 'path');
    send<ViewerTokenResponse>(res, 200, { token: deps.viewerTokens.revoke(id, actorOf(res)) });
  });

  router.get(p('/access-policies'), (_req, res) => {
    send<ListAccessPoliciesResponse>(res, 200, { policies: deps.accessPolicies.list() });
  });

  router.post(p('/access-policies'), jsonBody(), async (req, res) => {
    const body = parseOrThrow(createAccessPolicyRequestSchema, req.body, 'access policy body');
    send<AccessPolicyResponse>(res, 201, { policy: await deps.accessPolicies.create(body, actorOf(res)) });
  });

  router.get(p('/access-policies/:id'), (req, res) => {
    const { id } = parseOrThrow(accessPolicyParamsSchema, { ...req.params }, 'path');
    send<AccessPolicyResponse>(res, 200, { policy: deps.accessPolicies.get(id) });
  });

  router.put(p('/access-policies/:id'), jsonBody(), async (req, res) => {
    const { id } = parseOrThrow(accessPolicyParamsSchema, { ...req.params }, 'path');
    const body = parseOrThrow(updateAccessPolicyRequestSchema, req.body, 'access policy body');
    send<AccessPolicyResponse>(res, 200, {
      policy: await deps.accessPolicies.update(id, body, actorOf(res)),
    });
  });

  router.delete(p('/access-policies/:id'), async (req, res) => {
    const { id } = parseOrThrow(accessPolicyParamsSchema, { ...req.params }, 'path');
    await deps.accessPolicies.remove(id, actorOf(res));
    res.status(204).end();
  });

  return router;
}
