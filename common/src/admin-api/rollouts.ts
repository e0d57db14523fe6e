import { z } from 'zod';
import { identifierSchema, imageRefSchema } from '../protocol/primitives.js';

/**
 * Rolling upgrades of the fleet's cloudflared image: `POST /cloudflared/rollouts` (or a
 * `PUT /cloudflared` that changes the fleet's image, with the defaults below), `GET
 * /cloudflared/rollouts`, `GET /cloudflared/rollouts/:id`, `POST /cloudflared/rollouts/:id/abort`.
 * Hosts go over in waves, the canary first; a wave goes on only once each of its hosts' cloudflared
 * is ready on the new image and its connector is connected at Cloudflare. A wave that is not
 * within `waveTimeoutSeconds` halts the rollout, and every host it touched returns to the
 * previous image.
 */

export const ROLLOUT_DEFAULTS = { canarySize: 1, waveSize: 2, waveTimeoutSeconds: 300 } as const;

export const rolloutOptionsSchema = z.strictObject({
  /** Agents upgraded first, alone in wave 0; absent: the first `canarySize` hosts by name. */
  canary: z.array(identifierSchema).min(1).max(100).optional(),
  canarySize: z.number().int().min(1).max(100).default(ROLLOUT_DEFAULTS.canarySize),
  /** Hosts per wave after the canary. */
  waveSize: z.number().int().min(1).max(1000).default(ROLLOUT_DEFAULTS.waveSize),
  /** How long a wave's hosts have to become ready and connected before the rollout halts. */
  waveTimeoutSeconds: z.number().int().min(5).max(3600).default(ROLLOUT_DEFAULTS.waveTimeoutSeconds),
});
export type RolloutOptions = z.output<typeof rolloutOptionsSchema>;

export const startRolloutRequestSchema = rolloutOptionsSchema.extend({ image: imageRefSchema });
export type StartRolloutRequest = z.input<typeof startRolloutRequestSchema>;

export const rolloutIdSchema = z.string().regex(/^ro_[0-9a-f]{16}$/, 'ro_ and 16 hex characters');
export const rolloutParamsSchema = z.strictObject({ id: rolloutIdSchema });

/**
 * A host's part in a rollout. `pending`: waits for its wave; `upgrading`: sent the new image, not
 * yet ready; `ready`: ready and connected on it; `failed`: not ready within the wave's timeout, or
 * cloudflared refused to run; `rolling_back`: to be sent the previous image (the queue failed);
 * `rolled_back`: sent the previous image after a halt; `skipped`: not part of it (`detail` says
 * why: paused, offline, an image of its own).
 */
export const ROLLOUT_HOST_STATES = [
  'pending',
  'upgrading',
  'ready',
  'failed',
  'rolling_back',
  'rolled_back',
  'skipped',
] as const;
export const rolloutHostStateSchema = z.enum(ROLLOUT_HOST_STATES);
export type RolloutHostState = z.infer<typeof rolloutHostStateSchema>;

export const rolloutHostViewSchema = z.object({
  agentId: z.string(),
  /** 0 is the canary; null for a skipped host. */
  wave: z.number().int().nullable(),
  state: rolloutHostStateSchema,
  detail: z.string().nullable(),
  updatedAt: z.string(),
});
export type RolloutHostView = z.infer<typeof rolloutHostViewSchema>;

/** `running`, then `succeeded` (the fleet's image is the new one) or `halted` (it is the previous). */
export const rolloutStatusSchema = z.enum(['running', 'succeeded', 'halted']);
export type RolloutStatus = z.infer<typeof rolloutStatusSchema>;

export const rolloutViewSchema = z.object({
  id: z.string(),
  image: z.string(),
  previousImage: z.string(),
  status: rolloutStatusSchema,
  canarySize: z.number().int(),
  waveSize: z.number().int(),
  waveTimeoutSeconds: z.number().int(),
  /** The wave being upgraded (0 = canary); null before the first and once finished. */
  currentWave: z.number().int().nullable(),
  waves: z.number().int(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  /** Why it halted: which hosts failed, or that an operator aborted it. */
  haltReason: z.string().nullable(),
  hosts: z.array(rolloutHostViewSchema),
});
export type RolloutView = z.infer<typeof rolloutViewSchema>;

export const rolloutResponseSchema = z.object({ rollout: rolloutViewSchema });
export type RolloutResponse = z.infer<typeof rolloutResponseSchema>;

export const listRolloutsResponseSchema = z.object({ rollouts: z.array(rolloutViewSchema) });
export type ListRolloutsResponse = z.infer<typeof listRolloutsResponseSchema>;
