import {
  ADMIN_API_PREFIX,
  type AuditQuery,
  accessPolicyResponseSchema,
  adoptionPreviewResponseSchema,
  adoptResponseSchema,
  agentActionResponseSchema,
  agentDetailResponseSchema,
  auditPageSchema,
  type CreateAccessPolicyRequest,
  type CreateKeyRequest,
  CSRF_HEADER,
  createKeyResponseSchema,
  createViewerTokenResponseSchema,
  fleetCloudflaredResponseSchema,
  listAccessPoliciesResponseSchema,
  listAgentsResponseSchema,
  listConflictsResponseSchema,
  listKeysResponseSchema,
  listRoutesResponseSchema,
  listViewerTokensResponseSchema,
  overviewResponseSchema,
  type PutCloudflaredRequest,
  publicRoutesResponseSchema,
  putCloudflaredResponseSchema,
  reconcileResponseSchema,
  routeDetailResponseSchema,
  SESSION_PATH,
  sessionResponseSchema,
  viewerTokenResponseSchema,
} from '@tunnelfleet/common/admin-api';
import type { z } from 'zod';

/** An answer other than 2xx: the API's `{ error: { code, message } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The session's CSRF token, sent with every change (the session cookie itself is httpOnly). */
let csrfToken: string | undefined;
export function useCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/** Told when an answer says the session is gone, so the app can show the sign-in page. */
let onSignedOut: () => void = () => undefined;
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

async function call<T>(
  schema: z.ZodType<T> | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers[CSRF_HEADER] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) {
    const answer = (await response.json().catch(() => null)) as {
      error?: { code?: string; message?: string };
    } | null;
    const error = new ApiError(
      response.status,
      answer?.error?.code ?? 'error',
      answer?.error?.message ?? `${method} ${path} answered ${response.status}`,
    );
    if (response.status === 401 && path !== SESSION_PATH) onSignedOut();
    throw error;
  }
  if (schema === null || response.status === 204) return undefined as T;
  return schema.parse(await response.json());
}

const admin = (path: string) => `${ADMIN_API_PREFIX}${path}`;

function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

export interface RoutesPageQuery {
  status?: string;
  agentId?: string;
  zone?: string;
  q?: string;
  sort?: string;
  order?: 'asc' | 'desc';
  group?: string;
  limit?: number;
  offset?: number;
}

/** The admin API, each answer parsed with its schema from @tunnelfleet/common. */
export const api = {
  session: () => call(sessionResponseSchema, 'GET', SESSION_PATH),
  signIn: (token: string) => call(sessionResponseSchema, 'POST', SESSION_PATH, { token }),
  signOut: () => call(null, 'DELETE', SESSION_PATH),

  overview: () => call(overviewResponseSchema, 'GET', admin('/overview')),
  reconcile: () => call(reconcileResponseSchema, 'POST', admin('/reconcile')),

  agents: () => call(listAgentsResponseSchema, 'GET', admin('/agents')),
  agent: (id: string) => call(agentDetailResponseSchema, 'GET', admin(`/agents/${encodeURIComponent(id)}`)),
  agentAction: (id: string, action: 'approve' | 'revoke' | 'pause' | 'resume' | 'rotate-secret') =>
    call(agentActionResponseSchema, 'POST', admin(`/agents/${encodeURIComponent(id)}/${action}`)),
  keys: () => call(listKeysResponseSchema, 'GET', admin('/keys')),
  fleetCloudflared: () => call(fleetCloudflaredResponseSchema, 'GET', admin('/cloudflared')),
  putFleetCloudflared: (body: PutCloudflaredRequest) =>
    call(putCloudflaredResponseSchema, 'PUT', admin('/cloudflared'), body),
  createKey: (body: CreateKeyRequest) => call(createKeyResponseSchema, 'POST', admin('/keys'), body),

  routes: (params: RoutesPageQuery) =>
    call(listRoutesResponseSchema, 'GET', admin(`/routes${query({ ...params })}`)),
  route: (id: number) => call(routeDetailResponseSchema, 'GET', admin(`/routes/${id}`)),
  publicRoutes: () => call(publicRoutesResponseSchema, 'GET', admin('/routes/public')),
  removeRetained: (id: string) => call(null, 'DELETE', admin(`/routes/retained/${encodeURIComponent(id)}`)),

  conflicts: (includeResolved: boolean) =>
    call(
      listConflictsResponseSchema,
      'GET',
      admin(`/conflicts${query({ includeResolved: String(includeResolved) })}`),
    ),

  handOver: (conflictId: number) =>
    call(listConflictsResponseSchema, 'POST', admin(`/conflicts/${conflictId}/hand-over`)),
  adoption: (conflictId: number) =>
    call(adoptionPreviewResponseSchema, 'GET', admin(`/conflicts/${conflictId}/adoption`)),
  adopt: (conflictId: number, fingerprint: string) =>
    call(adoptResponseSchema, 'POST', admin(`/conflicts/${conflictId}/adopt`), { fingerprint }),

  accessPolicies: () => call(listAccessPoliciesResponseSchema, 'GET', admin('/access-policies')),
  createAccessPolicy: (body: CreateAccessPolicyRequest) =>
    call(accessPolicyResponseSchema, 'POST', admin('/access-policies'), body),
  removeAccessPolicy: (id: string) =>
    call(null, 'DELETE', admin(`/access-policies/${encodeURIComponent(id)}`)),

  audit: (params: Partial<AuditQuery>) =>
    call(auditPageSchema, 'GET', admin(`/audit${query({ ...params })}`)),

  viewerTokens: () => call(listViewerTokensResponseSchema, 'GET', admin('/viewer-tokens')),
  createViewerToken: (name: string) =>
    call(createViewerTokenResponseSchema, 'POST', admin('/viewer-tokens'), { name }),
  revokeViewerToken: (id: string) =>
    call(viewerTokenResponseSchema, 'POST', admin(`/viewer-tokens/${encodeURIComponent(id)}/revoke`)),
};
