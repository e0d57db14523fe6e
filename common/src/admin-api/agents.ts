import { z } from 'zod';
import { identifierSchema } from '../protocol/primitives.js';
import { effectiveCloudflaredSchema, runningCloudflaredSchema } from './cloudflared.js';

/**
 * Agents: `/agents`, `/agents/:id`, `/agents/:id/approve`, `/agents/:id/revoke`,
 * `/agents/:id/pause`, `/agents/:id/resume`, `/agents/:id/rotate-secret`, `/agents/rotate-secret`
 * (`/agents/:id/cloudflared`: see cloudflared.ts).
 */

export const agentIdParamsSchema = z.strictObject({ id: identifierSchema });

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
  /** `paused`: an operator stopped its cloudflared (`pause`); its routes are kept. */
  tunnelStatus: z.enum(['running', 'paused']),
  pausedAt: z.string().nullable(),
  /** What its cloudflared runs, as last reported: how version skew across the fleet shows. */
  cloudflared: runningCloudflaredSchema.nullable(),
  /**
   * The custom DockFlare and Labelgate prefixes it registered with (`LABEL_PREFIX`,
   * `LABELGATE_LABEL_PREFIX`), normalized; `{}` for the default prefixes.
   */
  labelPrefixes: z.object({ dockflare: z.string().optional(), labelgate: z.string().optional() }),
  /** Its container routes that are not revoked: what revoking it withdraws. */
  routeCount: z.number().int(),
});
export type AgentView = z.infer<typeof agentViewSchema>;

export const agentDetailSchema = agentViewSchema.extend({
  tunnel: z.object({ id: z.string(), name: z.string(), deletedAt: z.string().nullable() }).nullable(),
  lastState: z.record(z.string(), z.unknown()).nullable(),
  containers: z.array(
    z.object({ containerId: z.string(), name: z.string(), state: z.string(), updatedAt: z.string() }),
  ),
  routes: z.number().int(),
  /** The image and settings the master sends it. */
  cloudflaredConfig: effectiveCloudflaredSchema,
});
export type AgentDetail = z.infer<typeof agentDetailSchema>;

export const listAgentsResponseSchema = z.object({ agents: z.array(agentViewSchema) });
export type ListAgentsResponse = z.infer<typeof listAgentsResponseSchema>;

export const agentDetailResponseSchema = z.object({ agent: agentDetailSchema });
export type AgentDetailResponse = z.infer<typeof agentDetailResponseSchema>;

/** The answer to approve, revoke, pause, resume and rotate-secret: the agent as it is now. */
export const agentActionResponseSchema = z.object({ agent: agentViewSchema });
export type AgentActionResponse = z.infer<typeof agentActionResponseSchema>;

/** `POST /agents/rotate-secret`: every approved agent's tunnel secret, one result per agent. */
export const rotateAllResponseSchema = z.object({
  results: z.array(
    z.object({
      agentId: z.string(),
      /** False when this agent's rotation failed (`error` says why); the others went on. */
      rotated: z.boolean(),
      error: z.string().optional(),
    }),
  ),
});
export type RotateAllResponse = z.infer<typeof rotateAllResponseSchema>;
