import { z } from 'zod';

/** Hostname conflicts: `/conflicts`. */

export const conflictsQuerySchema = z.strictObject({
  includeResolved: z.enum(['true', 'false']).default('false'),
});

/** `POST /conflicts/:id/hand-over`: the route that waits for a hostname gets it. */
export const conflictParamsSchema = z.strictObject({
  id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
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
export type ConflictView = z.infer<typeof conflictViewSchema>;

export const listConflictsResponseSchema = z.object({ conflicts: z.array(conflictViewSchema) });
export type ListConflictsResponse = z.infer<typeof listConflictsResponseSchema>;
