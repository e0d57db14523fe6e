import { z } from 'zod';
import { PROTOCOL_LIMITS } from '../protocol/limits.js';

/** The audit log, newest first: `/audit`. */

export const auditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  action: z.string().min(1).max(100).optional(),
  target: z.string().min(1).max(PROTOCOL_LIMITS.nameLength).optional(),
});
export type AuditQuery = z.infer<typeof auditQuerySchema>;

/** One entry: `actor` is `admin` (the token), `system`, `agent:<id>` or a dashboard session. */
export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

export const auditPageSchema = z.object({
  entries: z.array(auditEntrySchema),
  nextBefore: z.number().int().nullable(),
});
export type AuditPage = z.infer<typeof auditPageSchema>;
