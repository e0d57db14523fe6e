/** The master's admin API over HTTP, as an operator's script would use it. */

// biome-ignore lint/suspicious/noExplicitAny: answers are read field by field by the tests that assert on them
export type AdminJson = any;

export interface HttpAnswer {
  status: number;
  body: AdminJson;
}

/**
 * The fields of a route (`GET /api/v1/admin/routes`) that the tests read; the master's
 * `routeViewSchema` is the full shape (test/ does not build against the master).
 */
export interface RouteView {
  id: number;
  agentId: string;
  routeKey: string;
  hostname: string | null;
  status: string;
  statusMessage: string | null;
  problems: unknown[];
  deleteAfter: string | null;
  updatedAt: string;
}

export interface AdminClient {
  readonly baseUrl: string;
  request(method: string, path: string, body?: unknown): Promise<HttpAnswer>;
  /** A new agent key; `key` is the secret shown once. */
  createKey(options: { name: string; autoApprove?: boolean; hostnameAllowlist?: string[] }): Promise<{
    key: string;
    keyId: string;
  }>;
  agents(): Promise<AdminJson[]>;
  agent(agentId: string): Promise<AdminJson>;
  revokeAgent(agentId: string): Promise<AdminJson>;
  revokeKey(keyId: string): Promise<AdminJson>;
  routes(filter?: { status?: string; agentId?: string; hostname?: string }): Promise<RouteView[]>;
  conflicts(includeResolved?: boolean): Promise<AdminJson[]>;
  /** `POST /api/v1/admin/reconcile`: a full reconcile now. */
  reconcile(): Promise<void>;
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
  const baseUrl = `${masterUrl}/api/v1/admin`;

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

  const expect = async (what: string, status: number, method: string, path: string, body?: unknown) => {
    const answer = await request(method, path, body);
    if (answer.status !== status) throw new AdminApiError(what, answer);
    return answer.body;
  };

  return {
    baseUrl,
    request,
    async createKey({ name, autoApprove = true, hostnameAllowlist = [] }) {
      const body = await expect('create key', 201, 'POST', '/keys', { name, autoApprove, hostnameAllowlist });
      return { key: body.key as string, keyId: body.record.id as string };
    },
    agents: async () => (await expect('list agents', 200, 'GET', '/agents')).agents,
    agent: async (agentId) =>
      (await expect(`agent ${agentId}`, 200, 'GET', `/agents/${encodeURIComponent(agentId)}`)).agent,
    revokeAgent: async (agentId) =>
      (await expect(`revoke agent ${agentId}`, 200, 'POST', `/agents/${encodeURIComponent(agentId)}/revoke`))
        .agent,
    revokeKey: async (keyId) =>
      (await expect(`revoke key ${keyId}`, 200, 'POST', `/keys/${encodeURIComponent(keyId)}/revoke`)).key,
    async routes(filter = {}) {
      const query = new URLSearchParams(
        Object.entries(filter).filter(([, v]) => v !== undefined) as [string, string][],
      );
      const suffix = query.size > 0 ? `?${query}` : '';
      return (await expect('list routes', 200, 'GET', `/routes${suffix}`)).routes;
    },
    conflicts: async (includeResolved = false) =>
      (await expect('list conflicts', 200, 'GET', `/conflicts?includeResolved=${includeResolved}`)).conflicts,
    async reconcile() {
      await expect('reconcile', 202, 'POST', '/reconcile');
    },
  };
}
