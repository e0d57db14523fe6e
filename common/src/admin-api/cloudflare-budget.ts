import { z } from 'zod';

/** The Cloudflare call budget and the drift checks' pacing: `GET /cloudflare/budget`. */

const perLaneSchema = z.object({
  change: z.number(),
  enrol: z.number(),
  sweep: z.number(),
  drift: z.number(),
});

export const budgetStateSchema = z.object({
  token: z.string(),
  /** Calls per window the master allows itself on this token (Cloudflare's limit less a margin). */
  ceiling: z.number(),
  /** The drift checks' part of it (DRIFT_BUDGET_PERCENT). */
  driftCeiling: z.number(),
  windowSeconds: z.number(),
  inWindow: perLaneSchema,
  /** Calls waiting for the budget, by lane: the backlog. */
  queued: perLaneSchema,
  oldestChangeWaitSeconds: z.number(),
  /** Seconds left of a pause Cloudflare asked for with a 429. */
  pausedSeconds: z.number(),
});

export const driftStatusSchema = z.object({
  configuredPeriodSeconds: z.number(),
  oldestCheckAgeSeconds: z.number(),
  tokens: z.array(
    z.object({
      token: z.string(),
      targets: z.number(),
      periodSeconds: z.number(),
      driftCeiling: z.number(),
      windowSeconds: z.number(),
    }),
  ),
  targets: z.array(
    z.object({
      target: z.string(),
      token: z.string(),
      periodSeconds: z.number(),
      lastCheckedAt: z.string().nullable(),
      nextCheckAt: z.string(),
      lastCalls: z.number(),
    }),
  ),
});

export const cloudflareBudgetResponseSchema = z.object({
  tokens: z.array(budgetStateSchema),
  drift: driftStatusSchema,
});
export type CloudflareBudgetResponse = z.infer<typeof cloudflareBudgetResponseSchema>;
