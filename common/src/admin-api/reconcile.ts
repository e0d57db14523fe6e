import { z } from 'zod';

/** A full reconcile on request: `/reconcile`. */

export const reconcileResponseSchema = z.object({ accepted: z.literal(true), jobId: z.string().optional() });
export type ReconcileResponse = z.infer<typeof reconcileResponseSchema>;
