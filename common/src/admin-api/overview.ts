import { z } from 'zod';
import { routeStatusSchema } from './route-views.js';

/** The fleet at a glance: `/overview` (the dashboard's first page). */

export const overviewSchema = z.object({
  agents: z.object({
    online: z.number().int(),
    offline: z.number().int(),
    pending: z.number().int(),
    revoked: z.number().int(),
  }),
  /** Container routes per status, and retained routes. */
  routes: z.record(routeStatusSchema, z.number().int()),
  retainedRoutes: z.number().int(),
  openConflicts: z.number().int(),
  /** Per Cloudflare token: calls in the current five-minute window against the ceiling kept under Cloudflare's limit. */
  cloudflare: z.array(
    z.object({
      token: z.string(),
      inWindow: z.number().int(),
      ceiling: z.number().int(),
      queued: z.number().int(),
    }),
  ),
  /** The last full reconcile, or null before the first one ended. */
  lastReconcile: z
    .object({
      at: z.string(),
      targets: z.number().int(),
      seconds: z.number(),
      failed: z.array(z.object({ target: z.string(), message: z.string() })),
    })
    .nullable(),
  /** Routes in `error`, most recent first. */
  latestErrors: z.array(
    z.object({
      routeId: z.number().int(),
      hostname: z.string().nullable(),
      agentId: z.string(),
      message: z.string().nullable(),
      updatedAt: z.string(),
    }),
  ),
});
export type Overview = z.infer<typeof overviewSchema>;
export const overviewResponseSchema = z.object({ overview: overviewSchema });
export type OverviewResponse = z.infer<typeof overviewResponseSchema>;
