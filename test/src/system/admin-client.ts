import {
  ADMIN_API_PREFIX,
  type AgentDetail,
  type AgentView,
  type AuditPage,
  agentActionResponseSchema,
  agentDetailResponseSchema,
  auditPageSchema,
  type ConflictView,
  type CreateKeyRequest,
  createKeyResponseSchema,
  type DeleteSharedTunnelResponse,
  deleteSharedTunnelResponseSchema,
  type KeyView,
  listAgentsResponseSchema,
  listConflictsResponseSchema,
  listKeysResponseSchema,
  listRoutesResponseSchema,
  type Overview,
  overviewResponseSchema,
  type PutCloudflaredRequest,
  type PutCloudflaredResponse,
  putCloudflaredResponseSchema,
  type RetainedRouteView,
  type RolloutView,
  type RouteStatus,
  type RouteView,
  reconcileResponseSchema,
  revokeKeyResponseSchema,
  rolloutResponseSchema,
  type SharedTunnelView,
  type StartRolloutRequest,
  sharedTunnelResponseSchema,
} from '@tunnelfleet/common';
import type { z } from 'zod';

/**
 * The master's admin API over HTTP, as an operator's script would use it. Answers are parsed
 * with the admin API's response schemas (`@tunnelfleet/common`), so a master that drifts from
 * the contract fails the tests that read it.
 */

export interface HttpAnswer {
  status: number;
  /** Parsed JSON, or the text when the answer is not JSON. */
  body: unknown;
}

export interface AdminClient {
  readonly baseUrl: string;
  /** A raw request, for tests of refusals; the typed methods below are for everything else. */
  request(method: string, path: string, body?: unknown): Promise<HttpAnswer>;
  /**
   * A new agent key; `key` is the secret shown once. Without an allowlist the key is created with
   * `allowAnyHostname: true` (the tests' usual agent), so a test asks for the scope it is about.
   */
  createKey(options: {
    name: string;
    autoApprove?: boolean;
    hostnameAllowlist?: string[];
    servicePolicy?: CreateKeyRequest['servicePolicy'];
  }): Promise<{
    key: string;
    keyId: string;
  }>;
  keys(): Promise<KeyView[]>;
  agents(): Promise<AgentView[]>;
  agent(agentId: string): Promise<AgentDetail>;
  approveAgent(agentId: string): Promise<AgentView>;
  revokeAgent(agentId: string): Promise<AgentView>;
  pauseAgent(agentId: string): Promise<AgentView>;
  resumeAgent(agentId: string): Promise<AgentView>;
  rotateSecret(agentId: string): Promise<AgentView>;
  /** `PUT /cloudflared` without `agentId`, `PUT /agents/:id/cloudflared` with one. */
  setCloudflared(request: PutCloudflaredRequest, agentId?: string): Promise<PutCloudflaredResponse>;
  /** `POST /cloudflared/rollouts`: a new fleet image, wave by wave. */
  startRollout(request: StartRolloutRequest): Promise<RolloutView>;
  rollout(rolloutId: string): Promise<RolloutView>;
  /** `DELETE /agents/:id`: decommissions the host. */
  deleteAgent(agentId: string): Promise<void>;
  revokeKey(keyId: string): Promise<KeyView>;
  routes(filter?: { status?: RouteStatus; agentId?: string; hostname?: string }): Promise<RouteView[]>;
  /** Retained routes (`cleanup=false`, container gone), as `GET /routes` lists them. */
  retainedRoutes(filter?: { agentId?: string; hostname?: string }): Promise<RetainedRouteView[]>;
  /** The newest audit entries about `target`. */
  audit(filter: { target: string }): Promise<AuditPage>;
  conflicts(includeResolved?: boolean): Promise<ConflictView[]>;
  /** `POST /api/v1/admin/reconcile`: a full reconcile now. */
  reconcile(): Promise<void>;
  /** `GET /overview`: counts, and when the last full reconcile ended. */
  overview(): Promise<Overview>;
  createSharedTunnel(name: string, members: string[]): Promise<SharedTunnelView>;
  sharedTunnel(name: string): Promise<SharedTunnelView>;
  removeSharedTunnelMember(name: string, agentId: string): Promise<SharedTunnelView>;
  deleteSharedTunnel(name: string): Promise<DeleteSharedTunnelResponse>;
}

class AdminApiError extends Error {
  override readonly name = 'AdminApiError';
  constructor(
    readonly what: string,
    readonly answer: HttpAnswer,
  ) {
    super(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
}

export function createAdminClient(masterUrl: string, adminToken: string): AdminClient {
  const baseUrl = `${masterUrl}${ADMIN_API_PREFIX}`;

  const request = async (method: string, path: string, body?: unknown): Promise<HttpAnswer> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: kept as text for the error message
    }
    return { status: response.status, body: parsed };
  };

  /** The answer, parsed by its response schema; any other status or shape is an AdminApiError. */
  const expect = async <S extends z.ZodType>(
    what: string,
    status: number,
    schema: S,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<z.output<S>> => {
    const answer = await request(method, path, body);
    if (answer.status !== status) throw new AdminApiError(what, answer);
    const parsed = schema.safeParse(answer.body);
    if (!parsed.success)
      throw new AdminApiError(`${what} (answer off the schema: ${parsed.error.message})`, answer);
    return parsed.data;
  };
  const agentPath = (agentId: string) => `/agents/${encodeURIComponent(agentId)}`;
  const listRoutes = (filter: Record<string, string | undefined>) => {
    const query = new URLSearchParams(
      Object.entries(filter).filter(([, v]) => v !== undefined) as [string, string][],
    );
    const suffix = query.size > 0 ? `?${query}` : '';
    return expect('list routes', 200, listRoutesResponseSchema, 'GET', `/routes${suffix}`);
  };

  return {
    baseUrl,
    request,
    async createKey({ name, autoApprove = true, hostnameAllowlist = [], servicePolicy }) {
      const created = await expect('create key', 201, createKeyResponseSchema, 'POST', '/keys', {
        name,
        autoApprove,
        hostnameAllowlist,
        ...(servicePolicy ? { servicePolicy } : {}),
        allowAnyHostname: hostnameAllowlist.length === 0,
      });
      return { key: created.key, keyId: created.record.id };
    },
    keys: async () => (await expect('list keys', 200, listKeysResponseSchema, 'GET', '/keys')).keys,
    agents: async () => (await expect('list agents', 200, listAgentsResponseSchema, 'GET', '/agents')).agents,
    agent: async (agentId) =>
      (await expect(`agent ${agentId}`, 200, agentDetailResponseSchema, 'GET', agentPath(agentId))).agent,
    approveAgent: async (agentId) =>
      (
        await expect(
          `approve agent ${agentId}`,
          200,
          agentActionResponseSchema,
          'POST',
          `${agentPath(agentId)}/approve`,
        )
      ).agent,
    revokeAgent: async (agentId) =>
      (
        await expect(
          `revoke agent ${agentId}`,
          200,
          agentActionResponseSchema,
          'POST',
          `${agentPath(agentId)}/revoke`,
        )
      ).agent,
    pauseAgent: async (agentId) =>
      (
        await expect(
          `pause agent ${agentId}`,
          200,
          agentActionResponseSchema,
          'POST',
          `${agentPath(agentId)}/pause`,
        )
      ).agent,
    resumeAgent: async (agentId) =>
      (
        await expect(
          `resume agent ${agentId}`,
          200,
          agentActionResponseSchema,
          'POST',
          `${agentPath(agentId)}/resume`,
        )
      ).agent,
    rotateSecret: async (agentId) =>
      (
        await expect(
          `rotate the secret of agent ${agentId}`,
          200,
          agentActionResponseSchema,
          'POST',
          `${agentPath(agentId)}/rotate-secret`,
        )
      ).agent,
    setCloudflared: (body, agentId) =>
      expect(
        `set cloudflared for ${agentId ?? 'the fleet'}`,
        200,
        putCloudflaredResponseSchema,
        'PUT',
        agentId ? `${agentPath(agentId)}/cloudflared` : '/cloudflared',
        body,
      ),
    startRollout: async (body) =>
      (await expect('start a rollout', 201, rolloutResponseSchema, 'POST', '/cloudflared/rollouts', body))
        .rollout,
    rollout: async (rolloutId) =>
      (
        await expect(
          `show rollout ${rolloutId}`,
          200,
          rolloutResponseSchema,
          'GET',
          `/cloudflared/rollouts/${encodeURIComponent(rolloutId)}`,
        )
      ).rollout,
    deleteAgent: async (agentId) => {
      const answer = await request('DELETE', agentPath(agentId));
      if (answer.status !== 204) throw new AdminApiError(`delete agent ${agentId}`, answer);
    },
    createSharedTunnel: async (name, members) =>
      (
        await expect(`create shared tunnel ${name}`, 201, sharedTunnelResponseSchema, 'POST', '/tunnels', {
          name,
          members,
        })
      ).tunnel,
    sharedTunnel: async (name) =>
      (
        await expect(
          `show shared tunnel ${name}`,
          200,
          sharedTunnelResponseSchema,
          'GET',
          `/tunnels/${encodeURIComponent(name)}`,
        )
      ).tunnel,
    removeSharedTunnelMember: async (name, agentId) =>
      (
        await expect(
          `remove ${agentId} from shared tunnel ${name}`,
          200,
          sharedTunnelResponseSchema,
          'DELETE',
          `/tunnels/${encodeURIComponent(name)}/members/${encodeURIComponent(agentId)}`,
        )
      ).tunnel,
    deleteSharedTunnel: (name) =>
      expect(
        `delete shared tunnel ${name}`,
        200,
        deleteSharedTunnelResponseSchema,
        'DELETE',
        `/tunnels/${encodeURIComponent(name)}`,
      ),
    revokeKey: async (keyId) =>
      (
        await expect(
          `revoke key ${keyId}`,
          200,
          revokeKeyResponseSchema,
          'POST',
          `/keys/${encodeURIComponent(keyId)}/revoke`,
        )
      ).key,
    routes: async (filter = {}) => (await listRoutes(filter)).routes,
    retainedRoutes: async (filter = {}) => (await listRoutes({ ...filter, status: 'retained' })).retained,
    audit: ({ target }) =>
      expect('audit log', 200, auditPageSchema, 'GET', `/audit?target=${encodeURIComponent(target)}`),
    conflicts: async (includeResolved = false) =>
      (
        await expect(
          'list conflicts',
          200,
          listConflictsResponseSchema,
          'GET',
          `/conflicts?includeResolved=${includeResolved}`,
        )
      ).conflicts,
    async reconcile() {
      await expect('reconcile', 202, reconcileResponseSchema, 'POST', '/reconcile');
    },
    overview: async () =>
      (await expect('overview', 200, overviewResponseSchema, 'GET', '/overview')).overview,
  };
}
