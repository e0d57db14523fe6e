import { hostnamePatternSchema, identifierSchema, nameSchema, PROTOCOL_LIMITS } from '@tunnelfleet/common';
import { z } from 'zod';
import { ROUTE_STATUSES } from '../store/routes.js';

/** Schemas of the admin API (`/api/v1/admin`): request validation and the OpenAPI description. */

export const keyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, '16 lower-case hex characters (the key id)');
export const keyIdParamsSchema = z.strictObject({ id: keyIdSchema });
export const agentIdParamsSchema = z.strictObject({ id: identifierSchema });

export const createKeyRequestSchema = z.strictObject({
  name: nameSchema,
  /** Hostname patterns the agent may claim; empty or absent = any hostname of a managed zone. */
  hostnameAllowlist: z.array(hostnamePatternSchema).max(PROTOCOL_LIMITS.allowedHostnames).default([]),
  /** Approve the agent at its first registration (default); false = an operator approves it. */
  autoApprove: z.boolean().default(true),
});

export const keyViewSchema = z.object({
  id: keyIdSchema,
  name: z.string(),
  hostnameAllowlist: z.array(z.string()),
  autoApprove: z.boolean(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  agentId: z.string().nullable(),
});

export const createKeyResponseSchema = z.object({
  /** The full key: shown once, never stored by the master. Put it in the agent's TUNNELFLEET_API_KEY. */
  key: z.string(),
  record: keyViewSchema,
});

export const agentViewSchema = z.object({
  id: z.string(),
  keyId: z.string(),
  name: z.string(),
  status: z.enum(['pending', 'approved', 'revoked']),
  online: z.boolean(),
  lastSeenAt: z.string().nullable(),
  hostname: z.string().nullable(),
  agentVersion: z.string().nullable(),
  createdAt: z.string(),
  approvedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

export const agentDetailSchema = agentViewSchema.extend({
  tunnel: z.object({ id: z.string(), name: z.string(), deletedAt: z.string().nullable() }).nullable(),
  lastState: z.record(z.string(), z.unknown()).nullable(),
  containers: z.array(
    z.object({ containerId: z.string(), name: z.string(), state: z.string(), updatedAt: z.string() }),
  ),
  routes: z.number().int(),
});

export const routeStatusSchema = z.enum(ROUTE_STATUSES);

export const routesQuerySchema = z.strictObject({
  status: routeStatusSchema.optional(),
  agentId: identifierSchema.optional(),
  hostname: z.string().min(1).max(PROTOCOL_LIMITS.hostnameLength).optional(),
});

export const routeViewSchema = z.object({
  id: z.number().int(),
  agentId: z.string(),
  containerId: z.string(),
  containerName: z.string(),
  routeKey: z.string(),
  hostname: z.string().nullable(),
  path: z.string(),
  service: z.string().nullable(),
  zone: z.string().nullable(),
  tunnelName: z.string().nullable(),
  status: routeStatusSchema,
  statusMessage: z.string().nullable(),
  problems: z.array(z.unknown()),
  deleteAfter: z.string().nullable(),
  claimedAt: z.string(),
  updatedAt: z.string(),
});

export const conflictsQuerySchema = z.strictObject({
  includeResolved: z.enum(['true', 'false']).default('false'),
});

export const conflictViewSchema = z.object({
  id: z.number().int(),
  kind: z.enum(['hostname_claimed', 'foreign_dns_record', 'foreign_access_app', 'outside_allowlist']),
  hostname: z.string(),
  path: z.string(),
  routeId: z.number().int().nullable(),
  holderRouteId: z.number().int().nullable(),
  message: z.string(),
  detectedAt: z.string(),
  resolvedAt: z.string().nullable(),
});

export const auditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  action: z.string().min(1).max(100).optional(),
  target: z.string().min(1).max(PROTOCOL_LIMITS.nameLength).optional(),
});

export const auditPageSchema = z.object({
  entries: z.array(
    z.object({
      id: z.number().int(),
      at: z.string(),
      actor: z.string(),
      action: z.string(),
      target: z.string().nullable(),
      details: z.record(z.string(), z.unknown()),
    }),
  ),
  nextBefore: z.number().int().nullable(),
});

const emptyObject = z.strictObject({});
/** One Cloudflare Access rule, in the API's shape (as the label parser produces them). */
export const accessRuleSchema = z.union([
  z.strictObject({ email: z.strictObject({ email: z.email().max(320) }) }),
  z.strictObject({ email_domain: z.strictObject({ domain: z.string().min(1).max(253) }) }),
  z.strictObject({ everyone: emptyObject }),
  z.strictObject({ service_token: z.strictObject({ token_id: z.string().min(1).max(64) }) }),
  z.strictObject({ any_valid_service_token: emptyObject }),
  z.strictObject({ group: z.strictObject({ id: z.string().min(1).max(64) }) }),
  z.strictObject({ ip: z.strictObject({ ip: z.string().min(1).max(64) }) }),
  z.strictObject({
    geo: z.strictObject({ country_code: z.string().regex(/^[A-Z]{2}$/, 'two upper-case letters') }),
  }),
  z.strictObject({ login_method: z.strictObject({ id: z.string().min(1).max(64) }) }),
  z.strictObject({ certificate: emptyObject }),
]);

const accessRules = z.array(accessRuleSchema).max(100);

export const accessPolicySpecSchema = z.strictObject({
  decision: z.enum(['allow', 'deny', 'bypass', 'non_identity']),
  include: accessRules.min(1),
  require: accessRules.default([]),
  exclude: accessRules.default([]),
});

/** The name labels use to refer to the policy (`tunnelfleet.access.named_policy=<name>`). */
export const accessPolicyNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, 'letters, digits, "_", ".", ":" and "-", at most 100');

export const accessPolicyParamsSchema = z.strictObject({ id: identifierSchema });
export const createAccessPolicyRequestSchema = z.strictObject({
  name: accessPolicyNameSchema,
  spec: accessPolicySpecSchema,
});
export const updateAccessPolicyRequestSchema = z
  .strictObject({ name: accessPolicyNameSchema.optional(), spec: accessPolicySpecSchema.optional() })
  .refine((body) => body.name !== undefined || body.spec !== undefined, {
    message: 'give name, spec or both',
  });

export const accessPolicyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  spec: accessPolicySpecSchema,
  cfPolicyId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const reconcileResponseSchema = z.object({ accepted: z.literal(true), jobId: z.string().optional() });
