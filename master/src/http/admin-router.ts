import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, parseOrThrow } from '@tunnelfleet/common';
import { type Request, Router } from 'express';
import type { AgentService } from '../agents/agent-service.js';
import { agentTunnelName } from '../agents/agent-service.js';
import type { HeartbeatStore } from '../agents/heartbeats.js';
import type { MasterHooks } from '../agents/ports.js';
import { issueAgentKey } from '../keys/agent-key-issuer.js';
import {
  deleteAccessPolicy,
  findAccessPolicy,
  findAccessPolicyByName,
  insertAccessPolicy,
  listAccessPolicies,
  updateAccessPolicy,
} from '../store/access-policies.js';
import { type AgentKeyRecord, listAgentKeys } from '../store/agent-keys.js';
import { type AgentRecord, findAgentByKey, listAgents } from '../store/agents.js';
import { listAudit, recordAudit } from '../store/audit-log.js';
import { listConflicts } from '../store/conflicts.js';
import { listContainers } from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { findAgentTunnel, findTunnelByName } from '../store/tunnels.js';
import {
  accessPolicyParamsSchema,
  agentIdParamsSchema,
  auditQuerySchema,
  conflictsQuerySchema,
  createAccessPolicyRequestSchema,
  createKeyRequestSchema,
  keyIdParamsSchema,
  routesQuerySchema,
  updateAccessPolicyRequestSchema,
} from './admin-schemas.js';
import { adminAuthentication } from './authentication.js';
import type { FailedAuthLimiter } from './failed-auth-limiter.js';
import { jsonBody } from './json-body.js';

export const ADMIN_API_PREFIX = '/api/v1/admin';

export interface AdminRouterDeps {
  db: SqliteDatabase;
  limiter: FailedAuthLimiter;
  adminTokenHash: string;
  agents: AgentService;
  heartbeats: HeartbeatStore;
  hooks: MasterHooks;
}

/** Never exposes the hash: a key is shown by id, name and settings only. */
function keyView(db: SqliteDatabase, key: AgentKeyRecord) {
  const { secretHash: _hash, ...view } = key;
  return { ...view, agentId: findAgentByKey(db, key.id)?.id ?? null };
}

/** Routes under `/api/v1/admin`; every change is written to the audit log with actor `admin`. */
export function adminRouter(deps: AdminRouterDeps): Router {
  const { db } = deps;
  const router = Router();
  router.use(ADMIN_API_PREFIX, adminAuthentication(deps.adminTokenHash, deps.limiter));
  const p = (path: string) => `${ADMIN_API_PREFIX}${path}`;

  async function agentViews(agents: AgentRecord[]) {
    const seen = await deps.heartbeats.lastSeen(agents.map((a) => a.id));
    return agents.map(({ reportSequence: _s, snapshotFingerprint: _f, ...agent }) => {
      const lastSeen = seen.get(agent.id);
      return {
        ...agent,
        online: agent.status !== 'revoked' && deps.heartbeats.isOnline(lastSeen),
        lastSeenAt: lastSeen === undefined ? agent.lastSeenAt : new Date(lastSeen).toISOString(),
      };
    });
  }

  router.post(p('/keys'), jsonBody(), (req, res) => {
    const body = parseOrThrow(createKeyRequestSchema, req.body, 'key body');
    const { key, record } = issueAgentKey(db, body);
    recordAudit(db, {
      actor: 'admin',
      action: 'key.create',
      target: record.id,
      details: {
        name: record.name,
        hostnameAllowlist: record.hostnameAllowlist,
        autoApprove: record.autoApprove,
      },
    });
    res.status(201).json({ key, record: keyView(db, record) });
  });

  router.get(p('/keys'), (_req, res) => {
    res.json({ keys: listAgentKeys(db).map((key) => keyView(db, key)) });
  });

  router.post(p('/keys/:id/revoke'), async (req, res) => {
    const { id } = parseOrThrow(keyIdParamsSchema, { ...req.params }, 'path');
    res.json({ key: keyView(db, await deps.agents.revokeKey(id, 'admin')) });
  });

  router.get(p('/agents'), async (_req, res) => {
    res.json({ agents: await agentViews(listAgents(db)) });
  });

  router.get(p('/agents/:id'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const agent = deps.agents.requireAgent(id);
    const [view] = await agentViews([agent]);
    const tunnel = findAgentTunnel(db, id) ?? findTunnelByName(db, agentTunnelName(id));
    res.json({
      agent: {
        ...view,
        tunnel: tunnel ? { id: tunnel.id, name: tunnel.name, deletedAt: tunnel.deletedAt } : null,
        lastState: await deps.heartbeats.lastState(id),
        containers: listContainers(db, id).map(({ containerId, name, state, updatedAt }) => ({
          containerId,
          name,
          state,
          updatedAt,
        })),
        routes: listRoutes(db, { agentId: id }).length,
      },
    });
  });

  router.post(p('/agents/:id/approve'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.approve(id, 'admin')]);
    res.json({ agent: view });
  });

  router.post(p('/agents/:id/revoke'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    const [view] = await agentViews([await deps.agents.revoke(id, 'admin')]);
    res.json({ agent: view });
  });

  router.delete(p('/agents/:id'), async (req, res) => {
    const { id } = parseOrThrow(agentIdParamsSchema, { ...req.params }, 'path');
    await deps.agents.remove(id, 'admin');
    res.status(204).end();
  });

  router.get(p('/routes'), (req, res) => {
    const filter = parseOrThrow(routesQuerySchema, { ...req.query }, 'query');
    res.json({
      routes: listRoutes(db, filter).map(({ spec: _spec, ...route }) => route),
    });
  });

  router.get(p('/conflicts'), (req, res) => {
    const { includeResolved } = parseOrThrow(conflictsQuerySchema, { ...req.query }, 'query');
    res.json({ conflicts: listConflicts(db, { includeResolved: includeResolved === 'true' }) });
  });

  router.post(p('/reconcile'), async (_req, res) => {
    recordAudit(db, { actor: 'admin', action: 'reconcile.request' });
    const result = await deps.hooks.requestReconcile();
    res.status(202).json({ accepted: true, ...(result?.jobId ? { jobId: result.jobId } : {}) });
  });

  router.get(p('/audit'), (req, res) => {
    res.json(listAudit(db, parseOrThrow(auditQuerySchema, { ...req.query }, 'query')));
  });

  router.get(p('/access-policies'), (_req, res) => {
    res.json({ policies: listAccessPolicies(db) });
  });

  router.post(p('/access-policies'), jsonBody(), (req, res) => {
    const body = parseOrThrow(createAccessPolicyRequestSchema, req.body, 'access policy body');
    if (findAccessPolicyByName(db, body.name))
      throw new ConflictError(`name: policy ${body.name} already exists`);
    const policy = insertAccessPolicy(db, { id: `ap_${randomBytes(8).toString('hex')}`, ...body });
    recordAudit(db, {
      actor: 'admin',
      action: 'access_policy.create',
      target: policy.id,
      details: { name: body.name },
    });
    res.status(201).json({ policy });
  });

  function requirePolicy(req: Request) {
    const { id } = parseOrThrow(accessPolicyParamsSchema, { ...req.params }, 'path');
    const policy = findAccessPolicy(db, id);
    if (!policy) throw new NotFoundError(`access policy ${id} not found`);
    return policy;
  }

  router.get(p('/access-policies/:id'), (req, res) => {
    res.json({ policy: requirePolicy(req) });
  });

  router.put(p('/access-policies/:id'), jsonBody(), (req, res) => {
    const current = requirePolicy(req);
    const body = parseOrThrow(updateAccessPolicyRequestSchema, req.body, 'access policy body');
    const sameName = body.name === undefined ? undefined : findAccessPolicyByName(db, body.name);
    if (sameName && sameName.id !== current.id)
      throw new ConflictError(`name: policy ${body.name} already exists`);
    const policy = updateAccessPolicy(db, current.id, body);
    recordAudit(db, {
      actor: 'admin',
      action: 'access_policy.update',
      target: current.id,
      details: { name: body.name },
    });
    res.json({ policy });
  });

  router.delete(p('/access-policies/:id'), (req, res) => {
    const policy = requirePolicy(req);
    deleteAccessPolicy(db, policy.id);
    recordAudit(db, {
      actor: 'admin',
      action: 'access_policy.delete',
      target: policy.id,
      details: { name: policy.name },
    });
    res.status(204).end();
  });

  return router;
}
