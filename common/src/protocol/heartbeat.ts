import { z } from 'zod';
import {
  containerIdSchema,
  counterSchema,
  identifierSchema,
  imageRefSchema,
  tunnelIdSchema,
} from './primitives.js';
import { approvalStatusSchema } from './register.js';

/**
 * `missing`: no managed cloudflared container exists (never started or removed);
 * `restarting`: the supervisor is backing off before starting it again.
 */
const cloudflaredStateSchema = z.enum(['running', 'stopped', 'restarting', 'missing']);
export type CloudflaredState = z.infer<typeof cloudflaredStateSchema>;

const cloudflaredStatusSchema = z.strictObject({
  state: cloudflaredStateSchema,
  /** cloudflared's metrics `/ready` answered 200 (it has at least one edge connection). */
  ready: z.boolean(),
  tunnelId: tunnelIdSchema.nullable(),
  containerId: containerIdSchema.nullable(),
  image: imageRefSchema.nullable().optional(),
});
export type CloudflaredStatus = z.infer<typeof cloudflaredStatusSchema>;

export const heartbeatRequestSchema = z.strictObject({
  /** Must equal the id bound to the bearer key; the master answers 403 otherwise. */
  agentId: identifierSchema,
  uptimeSeconds: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  cloudflared: cloudflaredStatusSchema,
  /** Version of the last command the agent applied; `null` before the first one. */
  lastAppliedCommandVersion: counterSchema.nullable(),
  dockerReachable: z.boolean(),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;

export const heartbeatResponseSchema = z.strictObject({
  status: approvalStatusSchema,
  reportIntervalSeconds: z.number().int().min(1).max(3600),
  /** The master lost or doubts its view of this host: send a full snapshot now. */
  snapshotRequested: z.boolean(),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;
