import { z } from 'zod';
import { containerSchema } from './container.js';
import { FINGERPRINT_PATTERN } from './fingerprint.js';
import { PROTOCOL_LIMITS } from './limits.js';
import { containerIdSchema, counterSchema, identifierSchema, timestampSchema } from './primitives.js';

/**
 * Common to both report kinds. `sequence` increases with every report an agent sends, across its
 * restarts too (see `createReportSequencer`); the master ignores a report whose sequence is not
 * above the last one it accepted from that agent.
 */
const reportBase = {
  /** Must equal the id bound to the bearer key; the master answers 403 otherwise. */
  agentId: identifierSchema,
  sequence: counterSchema,
  observedAt: timestampSchema,
};

const containerChangeSchema = z.discriminatedUnion('action', [
  /** The container was created, started, stopped, renamed or relabelled: its full current view. */
  z.strictObject({ action: z.literal('upsert'), container: containerSchema }),
  /** The container no longer exists. */
  z.strictObject({ action: z.literal('remove'), containerId: containerIdSchema }),
]);
export type ContainerChange = z.infer<typeof containerChangeSchema>;

const eventReportSchema = z.strictObject({
  ...reportBase,
  kind: z.literal('event'),
  change: containerChangeSchema,
});

const snapshotReportSchema = z
  .strictObject({
    ...reportBase,
    kind: z.literal('snapshot'),
    /** `snapshotFingerprint(containers)`; the master recomputes it rather than trusting it. */
    fingerprint: z.string().regex(FINGERPRINT_PATTERN, 'sha256:<64 hex>'),
    /** Every container carrying one of the label prefixes we read; one absent here counts as stopped. */
    containers: z.array(containerSchema).max(PROTOCOL_LIMITS.containersPerSnapshot),
  })
  .refine((report) => new Set(report.containers.map((c) => c.id)).size === report.containers.length, {
    message: 'duplicate container id',
    path: ['containers'],
  });

export const reportSchema = z.discriminatedUnion('kind', [eventReportSchema, snapshotReportSchema]);
export type Report = z.infer<typeof reportSchema>;

export const reportResponseSchema = z.strictObject({
  /**
   * `accepted`: applied; `unchanged`: a snapshot whose fingerprint matched the last one (nothing done);
   * `stale`: sequence not above `lastSequence`, ignored.
   */
  status: z.enum(['accepted', 'unchanged', 'stale']),
  lastSequence: counterSchema,
});
export type ReportResponse = z.infer<typeof reportResponseSchema>;
