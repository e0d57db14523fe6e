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
  kind: z.enum([
    'hostname_claimed',
    'foreign_dns_record',
    'foreign_access_app',
    'foreign_ingress_rule',
    'outside_allowlist',
  ]),
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

/** A DNS record's fields as a diff shows them. */
export const dnsRecordFieldsSchema = z.object({
  type: z.string(),
  name: z.string(),
  content: z.string().nullable(),
  proxied: z.boolean().nullable(),
  ttl: z.number().nullable(),
  comment: z.string().nullable(),
});
export type DnsRecordFields = z.infer<typeof dnsRecordFieldsSchema>;

/** An ingress rule's fields as a diff shows them (objects as JSON). */
export const ingressRuleFieldsSchema = z.object({
  hostname: z.string().nullable(),
  path: z.string().nullable(),
  service: z.string().nullable(),
  originRequest: z.string().nullable(),
  /** Any other key of the rule, as JSON: adopting drops them. */
  other: z.string().nullable(),
});
export type IngressRuleFields = z.infer<typeof ingressRuleFieldsSchema>;

const adoptionBase = {
  conflictId: z.number().int(),
  hostname: z.string(),
  path: z.string(),
  routeId: z.number().int(),
  agentId: z.string(),
  /** Of the foreign object as read: `adopt` is refused if it changed since. */
  fingerprint: z.string(),
};

/**
 * `GET /conflicts/:id/adoption`: the foreign object in a route's way as Cloudflare holds it now,
 * what Tunnelfleet would write over it, and the fingerprint of what was read.
 */
export const adoptionPreviewSchema = z.discriminatedUnion('object', [
  z.object({
    ...adoptionBase,
    object: z.literal('dns_record'),
    recordId: z.string(),
    current: dnsRecordFieldsSchema.extend({ modifiedOn: z.string().nullable() }),
    desired: dnsRecordFieldsSchema,
  }),
  z.object({
    ...adoptionBase,
    object: z.literal('ingress_rule'),
    tunnelId: z.string(),
    current: ingressRuleFieldsSchema,
    desired: ingressRuleFieldsSchema,
  }),
]);
export type AdoptionPreview = z.infer<typeof adoptionPreviewSchema>;

export const adoptionPreviewResponseSchema = z.object({ adoption: adoptionPreviewSchema });
export type AdoptionPreviewResponse = z.infer<typeof adoptionPreviewResponseSchema>;

/** `POST /conflicts/:id/adopt`: take the object over, if it is still the one the diff showed. */
export const adoptRequestSchema = z.strictObject({
  fingerprint: z.string().regex(/^[0-9a-f]{64}$/, 'a fingerprint from GET /conflicts/:id/adoption'),
});
export type AdoptRequest = z.infer<typeof adoptRequestSchema>;

export const adoptResponseSchema = z.object({
  adopted: z.object({
    object: z.enum(['dns_record', 'ingress_rule']),
    hostname: z.string(),
    routeId: z.number().int(),
    /**
     * `done`: the record is ours at Cloudflare. `syncing`: the tunnel's next sync (within its
     * debounce) takes the rule over, if it is still as the diff showed; the conflict then closes.
     */
    state: z.enum(['done', 'syncing']),
  }),
  conflicts: z.array(conflictViewSchema),
});
export type AdoptResponse = z.infer<typeof adoptResponseSchema>;
