import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import {
  ADMIN_API_PREFIX,
  accessPolicyParamsSchema,
  accessPolicyResponseSchema,
  addSharedTunnelMemberRequestSchema,
  adoptionPreviewResponseSchema,
  adoptRequestSchema,
  adoptResponseSchema,
  agentActionResponseSchema,
  agentDetailResponseSchema,
  agentIdParamsSchema,
  alertDeliveriesQuerySchema,
  alertReceiverParamsSchema,
  alertReceiverResponseSchema,
  auditPageSchema,
  auditQuerySchema,
  cloudflareBudgetResponseSchema,
  commandAckResponseSchema,
  commandAckSchema,
  conflictParamsSchema,
  conflictsQuerySchema,
  createAccessPolicyRequestSchema,
  createAlertReceiverRequestSchema,
  createAlertReceiverResponseSchema,
  createKeyRequestSchema,
  createKeyResponseSchema,
  createSharedTunnelRequestSchema,
  createViewerTokenRequestSchema,
  createViewerTokenResponseSchema,
  deleteSharedTunnelResponseSchema,
  errorBodySchema,
  fleetCloudflaredResponseSchema,
  heartbeatRequestSchema,
  heartbeatResponseSchema,
  identifierSchema,
  keyIdParamsSchema,
  listAccessPoliciesResponseSchema,
  listAgentsResponseSchema,
  listAlertDeliveriesResponseSchema,
  listAlertReceiversResponseSchema,
  listConflictsResponseSchema,
  listKeysResponseSchema,
  listRolloutsResponseSchema,
  listRoutesResponseSchema,
  listSharedTunnelsResponseSchema,
  listViewerTokensResponseSchema,
  loginRequestSchema,
  MAX_AGENT_BODY_BYTES,
  nextCommandQuerySchema,
  nextCommandResponseSchema,
  overviewResponseSchema,
  publicRoutesResponseSchema,
  putCloudflaredRequestSchema,
  putCloudflaredResponseSchema,
  reconcileResponseSchema,
  registerRequestSchema,
  registerResponseSchema,
  reportResponseSchema,
  reportSchema,
  retainedRouteParamsSchema,
  revokeKeyResponseSchema,
  rolloutParamsSchema,
  rolloutResponseSchema,
  rotateAllResponseSchema,
  routeDetailResponseSchema,
  routeIdParamsSchema,
  routesQuerySchema,
  SESSION_PATH,
  sessionResponseSchema,
  sharedTunnelMemberParamsSchema,
  sharedTunnelParamsSchema,
  sharedTunnelResponseSchema,
  startRolloutRequestSchema,
  testAlertResponseSchema,
  updateAccessPolicyRequestSchema,
  updateAlertReceiverRequestSchema,
  viewerTokenParamsSchema,
  viewerTokenResponseSchema,
} from '@tunnelfleet/common';
import { z } from 'zod';

export const OPENAPI_PATH = '/api/v1/openapi.json';

type Responses = RouteConfig['responses'];

function json(schema: z.ZodType, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

const errors: Responses = {
  400: json(errorBodySchema, 'Invalid input; the message names every bad field'),
  401: json(errorBodySchema, 'Missing, invalid or revoked credentials'),
  413: json(errorBodySchema, 'Body too large'),
  429: json(
    errorBodySchema,
    'Too many failed authentications, or too many reports from this agent (see Retry-After)',
  ),
};

/** Admission control's answer to enrolment (a registration, a new host's first snapshot). */
const busy = json(
  errorBodySchema,
  'master_busy: the master is overloaded; nothing was kept, try again after Retry-After',
);

/**
 * The OpenAPI 3.1 description of the agent and admin APIs, generated from the very zod schemas
 * that validate the requests, so it cannot drift from the code.
 */
export function buildOpenApiDocument(): object {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'agentKey', {
    type: 'http',
    scheme: 'bearer',
    description: 'Per-agent API key `tfk_<id>_<secret>`',
  });
  registry.registerComponent('securitySchemes', 'adminToken', {
    type: 'http',
    scheme: 'bearer',
    description: 'Admin token (TUNNELFLEET_ADMIN_TOKEN, or the one printed at first start)',
  });
  const agent = [{ agentKey: [] }];
  const admin = [{ adminToken: [] }];
  const body = (schema: z.ZodType) => ({ body: { content: { 'application/json': { schema } } } });
  const withPathId = (path: string) => path.replace(':id', '{id}');

  const agentPaths: RouteConfig[] = [
    {
      method: 'post',
      path: '/api/v1/agent/register',
      summary: 'Register (binds the key to a stable agent id; approval may create the tunnel)',
      request: body(registerRequestSchema),
      responses: {
        200: json(registerResponseSchema, 'Registered'),
        ...errors,
        403: json(errorBodySchema, 'agentId not this key’s'),
        503: busy,
      },
    },
    {
      method: 'post',
      path: '/api/v1/agent/heartbeat',
      summary: 'Heartbeat',
      request: body(heartbeatRequestSchema),
      responses: { 200: json(heartbeatResponseSchema, 'Recorded'), ...errors },
    },
    {
      method: 'post',
      path: '/api/v1/agent/reports',
      summary: `Report a container change or a full snapshot (body up to ${MAX_AGENT_BODY_BYTES} bytes; rate-limited per agent)`,
      request: body(reportSchema),
      responses: { 200: json(reportResponseSchema, 'Accepted, unchanged or stale'), ...errors, 503: busy },
    },
    {
      method: 'get',
      path: '/api/v1/agent/commands/next',
      summary: 'Long-poll for the next command',
      request: { query: nextCommandQuerySchema },
      responses: {
        200: json(nextCommandResponseSchema, 'A command, or null when the wait ended'),
        ...errors,
      },
    },
    {
      method: 'post',
      path: withPathId('/api/v1/agent/commands/:id/ack'),
      summary: 'Acknowledge a command of this agent',
      request: { params: z.object({ id: identifierSchema }), ...body(commandAckSchema) },
      responses: { 200: json(commandAckResponseSchema, 'Acknowledged'), ...errors },
    },
  ];
  for (const route of agentPaths) registry.registerPath({ ...route, tags: ['agent'], security: agent });

  const a = (path: string) => `${ADMIN_API_PREFIX}${path}`;
  const adminPaths: RouteConfig[] = [
    {
      method: 'post',
      path: a('/keys'),
      summary: 'Create an agent key (the key is in this answer only)',
      request: body(createKeyRequestSchema),
      responses: { 201: json(createKeyResponseSchema, 'Created'), ...errors },
    },
    {
      method: 'get',
      path: a('/keys'),
      summary: 'List agent keys',
      responses: { 200: json(listKeysResponseSchema, 'Keys'), ...errors },
    },
    {
      method: 'post',
      path: a('/keys/{id}/revoke'),
      summary: 'Revoke a key (and its agent)',
      request: { params: keyIdParamsSchema },
      responses: { 200: json(revokeKeyResponseSchema, 'Revoked'), ...errors },
    },
    {
      method: 'get',
      path: a('/agents'),
      summary: 'List agents',
      responses: { 200: json(listAgentsResponseSchema, 'Agents'), ...errors },
    },
    {
      method: 'get',
      path: a('/agents/{id}'),
      summary: 'Show an agent',
      request: { params: agentIdParamsSchema },
      responses: { 200: json(agentDetailResponseSchema, 'Agent'), ...errors },
    },
    ...(
      [
        ['approve', 'Approve a pending agent'],
        ['revoke', 'Revoke an agent, delete its tunnel, mark its routes'],
        ['pause', "Stop the agent's cloudflared and keep it stopped; its routes are kept"],
        ['resume', "Start a paused agent's cloudflared again"],
        ['rotate-secret', "Give the agent's tunnel a new secret and send it the new token"],
      ] as const
    ).map(
      ([verb, summary]): RouteConfig => ({
        method: 'post',
        path: a(`/agents/{id}/${verb}`),
        summary,
        request: { params: agentIdParamsSchema },
        responses: { 200: json(agentActionResponseSchema, 'Done'), ...errors },
      }),
    ),
    {
      method: 'post',
      path: a('/agents/rotate-secret'),
      summary: "Give every approved agent's tunnel a new secret (after a suspected leak)",
      responses: { 200: json(rotateAllResponseSchema, 'One result per agent'), ...errors },
    },
    {
      method: 'get',
      path: a('/cloudflared'),
      summary: "The fleet's cloudflared image and settings",
      responses: { 200: json(fleetCloudflaredResponseSchema, 'Fleet default'), ...errors },
    },
    {
      method: 'put',
      path: a('/cloudflared'),
      summary:
        "Set the fleet's cloudflared image and settings; running agents get update_tunnel (a new image starts a rollout)",
      request: body(putCloudflaredRequestSchema),
      responses: { 200: json(putCloudflaredResponseSchema, 'Saved and sent'), ...errors },
    },
    {
      method: 'get',
      path: a('/cloudflared/rollouts'),
      summary: "Rollouts of the fleet's cloudflared image, newest first",
      responses: { 200: json(listRolloutsResponseSchema, 'Rollouts'), ...errors },
    },
    {
      method: 'post',
      path: a('/cloudflared/rollouts'),
      summary: 'Roll a new fleet cloudflared image out in waves, the canary first',
      request: body(startRolloutRequestSchema),
      responses: { 201: json(rolloutResponseSchema, 'Started'), ...errors },
    },
    {
      method: 'get',
      path: a('/cloudflared/rollouts/{id}'),
      summary: "A rollout with each host's part in it",
      request: { params: rolloutParamsSchema },
      responses: { 200: json(rolloutResponseSchema, 'Rollout'), ...errors },
    },
    {
      method: 'post',
      path: a('/cloudflared/rollouts/{id}/abort'),
      summary: 'Halt a running rollout and return the hosts it reached to the previous image',
      request: { params: rolloutParamsSchema },
      responses: { 200: json(rolloutResponseSchema, 'Halted'), ...errors },
    },
    {
      method: 'put',
      path: a('/agents/{id}/cloudflared'),
      summary: "Override the fleet's cloudflared image and settings for one agent",
      request: { params: agentIdParamsSchema, ...body(putCloudflaredRequestSchema) },
      responses: { 200: json(putCloudflaredResponseSchema, 'Saved and sent'), ...errors },
    },
    {
      method: 'get',
      path: a('/tunnels'),
      summary: 'List the shared tunnels and their member agents',
      responses: { 200: json(listSharedTunnelsResponseSchema, 'Shared tunnels'), ...errors },
    },
    {
      method: 'post',
      path: a('/tunnels'),
      summary: 'Create a shared tunnel at Cloudflare; each member runs a connector for it',
      request: body(createSharedTunnelRequestSchema),
      responses: { 201: json(sharedTunnelResponseSchema, 'Created'), ...errors },
    },
    {
      method: 'get',
      path: a('/tunnels/{name}'),
      summary: 'Show a shared tunnel',
      request: { params: sharedTunnelParamsSchema },
      responses: { 200: json(sharedTunnelResponseSchema, 'Shared tunnel'), ...errors },
    },
    {
      method: 'delete',
      path: a('/tunnels/{name}'),
      summary: 'Delete a shared tunnel: its connectors stop, its records, rules and Access apps go',
      request: { params: sharedTunnelParamsSchema },
      responses: { 200: json(deleteSharedTunnelResponseSchema, 'Deleted'), ...errors },
    },
    {
      method: 'post',
      path: a('/tunnels/{name}/rotate-secret'),
      summary: 'Give a shared tunnel a new secret and send every member the new token',
      request: { params: sharedTunnelParamsSchema },
      responses: { 200: json(sharedTunnelResponseSchema, 'Rotated'), ...errors },
    },
    {
      method: 'post',
      path: a('/tunnels/{name}/members'),
      summary: 'Add a member agent (at most 25): it is sent a connector for the tunnel',
      request: { params: sharedTunnelParamsSchema, ...body(addSharedTunnelMemberRequestSchema) },
      responses: { 200: json(sharedTunnelResponseSchema, 'Added'), ...errors },
    },
    {
      method: 'delete',
      path: a('/tunnels/{name}/members/{agentId}'),
      summary: 'Remove a member agent: its connector stops, its routes on the tunnel become invalid',
      request: { params: sharedTunnelMemberParamsSchema },
      responses: { 200: json(sharedTunnelResponseSchema, 'Removed'), ...errors },
    },
    {
      method: 'delete',
      path: a('/agents/{id}'),
      summary: 'Revoke and delete an agent',
      request: { params: agentIdParamsSchema },
      responses: { 204: { description: 'Deleted' }, ...errors },
    },
    {
      method: 'get',
      path: a('/routes'),
      summary: 'List routes with status and problems, and retained routes',
      request: { query: routesQuerySchema },
      responses: { 200: json(listRoutesResponseSchema, 'Routes'), ...errors },
    },
    {
      method: 'get',
      path: a('/routes/public'),
      summary: 'List the hostnames served without Access (REQUIRE_ACCESS guardrail report)',
      responses: { 200: json(publicRoutesResponseSchema, 'Public routes'), ...errors },
    },
    {
      method: 'delete',
      path: a('/routes/retained/{id}'),
      summary: 'Delete a retained route (its Cloudflare objects are withdrawn by the next sync)',
      request: { params: retainedRouteParamsSchema },
      responses: { 204: { description: 'Deleted' }, ...errors },
    },
    {
      method: 'get',
      path: a('/conflicts'),
      summary: 'List conflicts',
      request: { query: conflictsQuerySchema },
      responses: { 200: json(listConflictsResponseSchema, 'Conflicts'), ...errors },
    },
    {
      method: 'post',
      path: a('/reconcile'),
      summary: 'Queue a full reconcile now',
      responses: { 202: json(reconcileResponseSchema, 'Queued'), ...errors },
    },
    {
      method: 'get',
      path: a('/cloudflare/budget'),
      summary: "Cloudflare call budget per token (backlog by lane) and the drift checks' pacing",
      responses: { 200: json(cloudflareBudgetResponseSchema, 'Budget'), ...errors },
    },
    {
      method: 'get',
      path: a('/audit'),
      summary: 'Audit log, newest first (page with `before`)',
      request: { query: auditQuerySchema },
      responses: { 200: json(auditPageSchema, 'Entries'), ...errors },
    },
    {
      method: 'get',
      path: a('/access-policies'),
      summary: 'List named Access policies',
      responses: {
        200: json(listAccessPoliciesResponseSchema, 'Policies'),
        ...errors,
      },
    },
    {
      method: 'post',
      path: a('/access-policies'),
      summary: 'Create a named Access policy',
      request: body(createAccessPolicyRequestSchema),
      responses: { 201: json(accessPolicyResponseSchema, 'Created'), ...errors },
    },
    {
      method: 'get',
      path: a('/access-policies/{id}'),
      summary: 'Show a named Access policy',
      request: { params: accessPolicyParamsSchema },
      responses: { 200: json(accessPolicyResponseSchema, 'Policy'), ...errors },
    },
    {
      method: 'put',
      path: a('/access-policies/{id}'),
      summary: 'Rename or change a named Access policy',
      request: { params: accessPolicyParamsSchema, ...body(updateAccessPolicyRequestSchema) },
      responses: { 200: json(accessPolicyResponseSchema, 'Updated'), ...errors },
    },
    {
      method: 'delete',
      path: a('/access-policies/{id}'),
      summary: 'Delete a named Access policy',
      request: { params: accessPolicyParamsSchema },
      responses: { 204: { description: 'Deleted' }, ...errors },
    },
    {
      method: 'post',
      path: a('/alerts/receivers'),
      summary: 'Add a webhook receiver (its signing secret is in this answer only)',
      request: body(createAlertReceiverRequestSchema),
      responses: { 201: json(createAlertReceiverResponseSchema, 'Created'), ...errors },
    },
    {
      method: 'get',
      path: a('/alerts/receivers'),
      summary: 'List webhook receivers (never their secrets; URLs by origin only)',
      responses: { 200: json(listAlertReceiversResponseSchema, 'Receivers'), ...errors },
    },
    {
      method: 'get',
      path: a('/alerts/receivers/{id}'),
      summary: 'One webhook receiver',
      request: { params: alertReceiverParamsSchema },
      responses: { 200: json(alertReceiverResponseSchema, 'Receiver'), ...errors },
    },
    {
      method: 'patch',
      path: a('/alerts/receivers/{id}'),
      summary: 'Change a webhook receiver (name, URL, format, events, enabled)',
      request: { params: alertReceiverParamsSchema, ...body(updateAlertReceiverRequestSchema) },
      responses: { 200: json(alertReceiverResponseSchema, 'Changed'), ...errors },
    },
    {
      method: 'delete',
      path: a('/alerts/receivers/{id}'),
      summary: 'Remove a webhook receiver and its pending deliveries',
      request: { params: alertReceiverParamsSchema },
      responses: { 204: { description: 'Removed' }, ...errors },
    },
    {
      method: 'post',
      path: a('/alerts/receivers/{id}/test'),
      summary: 'Queue an alert.test event for this receiver',
      request: { params: alertReceiverParamsSchema },
      responses: { 202: json(testAlertResponseSchema, 'Queued'), ...errors },
    },
    {
      method: 'get',
      path: a('/routes/{id}'),
      summary: 'One route: its labels and their language, the Cloudflare objects behind it, its history',
      request: { params: routeIdParamsSchema },
      responses: { 200: json(routeDetailResponseSchema, 'Route'), ...errors },
    },
    {
      method: 'post',
      path: a('/conflicts/{id}/hand-over'),
      summary: 'Give the hostname of an open hostname_claimed conflict to the route that waits',
      request: { params: conflictParamsSchema },
      responses: { 200: json(listConflictsResponseSchema, 'The open conflicts after it'), ...errors },
    },
    {
      method: 'get',
      path: a('/conflicts/{id}/adoption'),
      summary:
        'The foreign DNS record of an open foreign_dns_record conflict as Cloudflare holds it, what adopting it would write, and its fingerprint',
      request: { params: conflictParamsSchema },
      responses: { 200: json(adoptionPreviewResponseSchema, 'The diff'), ...errors },
    },
    {
      method: 'post',
      path: a('/conflicts/{id}/adopt'),
      summary:
        'Adopt the foreign DNS record of the conflict, if it still has the fingerprint its diff showed (409 adoption_stale otherwise)',
      request: { params: conflictParamsSchema, ...body(adoptRequestSchema) },
      responses: { 200: json(adoptResponseSchema, 'Adopted; the open conflicts after it'), ...errors },
    },
    {
      method: 'get',
      path: a('/overview'),
      summary:
        'The fleet at a glance: agents, routes by status, conflicts, Cloudflare budget, last reconcile, latest errors',
      responses: { 200: json(overviewResponseSchema, 'Overview'), ...errors },
    },
    {
      method: 'post',
      path: a('/viewer-tokens'),
      summary: 'Create a read-only dashboard viewer token (the token is in this answer only)',
      request: body(createViewerTokenRequestSchema),
      responses: { 201: json(createViewerTokenResponseSchema, 'Created'), ...errors },
    },
    {
      method: 'get',
      path: a('/viewer-tokens'),
      summary: 'List viewer tokens (never their secrets)',
      responses: { 200: json(listViewerTokensResponseSchema, 'Viewer tokens'), ...errors },
    },
    {
      method: 'post',
      path: a('/viewer-tokens/{id}/revoke'),
      summary: 'Revoke a viewer token and end its sessions',
      request: { params: viewerTokenParamsSchema },
      responses: { 200: json(viewerTokenResponseSchema, 'Revoked'), ...errors },
    },
    {
      method: 'get',
      path: a('/alerts/deliveries'),
      summary: 'Alert deliveries, newest first',
      request: { query: alertDeliveriesQuerySchema },
      responses: { 200: json(listAlertDeliveriesResponseSchema, 'Deliveries'), ...errors },
    },
  ];
  for (const route of adminPaths) registry.registerPath({ ...route, tags: ['admin'], security: admin });

  registry.registerPath({
    method: 'post',
    path: SESSION_PATH,
    summary: 'Dashboard sign-in with the admin token or a viewer token: sets the httpOnly session cookie',
    tags: ['dashboard'],
    request: body(loginRequestSchema),
    responses: { 201: json(sessionResponseSchema, 'Signed in'), ...errors },
  });
  registry.registerPath({
    method: 'get',
    path: SESSION_PATH,
    summary: 'The signed-in session (role, expiry) and its CSRF token, sent as X-CSRF-Token with each change',
    tags: ['dashboard'],
    responses: { 200: json(sessionResponseSchema, 'Signed in'), ...errors },
  });
  registry.registerPath({
    method: 'delete',
    path: SESSION_PATH,
    summary: 'Sign out (needs X-CSRF-Token)',
    tags: ['dashboard'],
    responses: { 204: { description: 'Signed out' }, ...errors },
  });

  for (const [path, summary] of [
    ['/healthz', 'The process answers'],
    ['/readyz', 'SQLite, Redis and the Cloudflare token are usable (503 otherwise, each reported)'],
    ['/metrics', 'Prometheus metrics'],
  ] as const) {
    registry.registerPath({
      method: 'get',
      path,
      summary,
      tags: ['operations'],
      responses: { 200: { description: 'OK' } },
    });
  }

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Tunnelfleet master API',
      version: '1',
      description:
        'Agent API (per-agent bearer key) and admin API (admin bearer token). Errors are `{ error: { code, message } }`.',
    },
  });
}
