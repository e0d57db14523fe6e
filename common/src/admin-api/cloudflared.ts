import { z } from 'zod';
import {
  cloudflaredTunnelOptionsSchema,
  POST_QUANTUM_NEEDS_QUIC,
  postQuantumNeedsQuic,
} from '../protocol/command.js';
import { imageRefSchema } from '../protocol/primitives.js';
import { rolloutOptionsSchema, rolloutViewSchema } from './rollouts.js';

/**
 * cloudflared's image and settings: `PUT /cloudflared` (the fleet default) and
 * `PUT /agents/:id/cloudflared` (one host's override of it). A PUT replaces what was chosen at its
 * level: an absent `image` or setting falls back to the fleet's, then to the master's
 * `CLOUDFLARED_IMAGE` and cloudflared's own defaults.
 */
export const putCloudflaredRequestSchema = z.strictObject({
  image: imageRefSchema.optional(),
  settings: cloudflaredTunnelOptionsSchema.refine(postQuantumNeedsQuic, POST_QUANTUM_NEEDS_QUIC).default({}),
  /**
   * Fleet PUT only. A new fleet image rolls out in waves (`rollouts.ts`), with these options or the
   * defaults; `false` sends it to every host at once, unchecked (an operator's explicit choice).
   */
  rollout: z.union([z.literal(false), rolloutOptionsSchema]).optional(),
});
export type PutCloudflaredRequest = z.input<typeof putCloudflaredRequestSchema>;

const cloudflaredConfigViewSchema = z.object({
  image: z.string().nullable(),
  settings: cloudflaredTunnelOptionsSchema,
  updatedAt: z.string().nullable(),
});
export type CloudflaredConfigView = z.infer<typeof cloudflaredConfigViewSchema>;

export const putCloudflaredResponseSchema = z.object({
  /** What is now chosen at the level the PUT named. */
  config: cloudflaredConfigViewSchema,
  /**
   * Approved, running agents it applies to, sent `update_tunnel` (each recreates cloudflared only
   * if its image or command line changed).
   */
  updatedAgents: z.array(z.string()),
  /** Agents that could not be sent it (the command queue failed): repeat the PUT. */
  failedAgents: z.array(z.object({ agentId: z.string(), error: z.string() })),
  /**
   * A fleet PUT that changes the image does not send it to every host at once: it starts a rollout
   * (with the default waves) and the image reaches the hosts wave by wave. Null otherwise.
   */
  rollout: rolloutViewSchema.nullable(),
});
export type PutCloudflaredResponse = z.infer<typeof putCloudflaredResponseSchema>;

/** `GET /cloudflared`: the fleet default, and the image used when neither level names one. */
export const fleetCloudflaredResponseSchema = z.object({
  config: cloudflaredConfigViewSchema,
  defaultImage: z.string(),
});
export type FleetCloudflaredResponse = z.infer<typeof fleetCloudflaredResponseSchema>;

/** What the agent is told to run: the fleet default with its override applied. */
export const effectiveCloudflaredSchema = z.object({
  image: z.string(),
  settings: cloudflaredTunnelOptionsSchema,
  /** The agent has an override of its own (`PUT /agents/:id/cloudflared`). */
  overridden: z.boolean(),
});

/** What the agent's last heartbeat says its cloudflared runs; null before its first report. */
export const runningCloudflaredSchema = z.object({
  image: z.string().nullable(),
  /** From cloudflared's `build_info` metric, e.g. `2023.7.3`. */
  version: z.string().nullable(),
  /** From cloudflared's `/ready`: which connector of the tunnel this host is. */
  connectorId: z.string().nullable(),
  /** The version of the tunnel configuration it serves (its `/config`). */
  configVersion: z.number().int().nullable(),
});
