import { z } from 'zod';
import { DEFAULT_SERVICE_POLICY, SERVICE_KINDS } from '../labels/service-policy.js';
import { PROTOCOL_LIMITS } from '../protocol/limits.js';
import { nameSchema } from '../protocol/primitives.js';
import { hostnamePatternSchema } from '../protocol/register.js';

/** Agent keys: `/keys`, `/keys/:id/revoke`. */

export const keyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, '16 lower-case hex characters (the key id)');
export const keyIdParamsSchema = z.strictObject({ id: keyIdSchema });

/**
 * Which services the key's agent may publish. By default none of `SERVICE_KINDS` (loopback,
 * link-local and cloud metadata, unix sockets, bastion, SOCKS): `allow` opens kinds one by one,
 * `containerOnly` narrows URL services to the reporting container's own names and addresses.
 */
export const servicePolicySchema = z.strictObject({
  allow: z
    .array(z.enum(SERVICE_KINDS))
    .max(SERVICE_KINDS.length)
    .refine((kinds) => new Set(kinds).size === kinds.length, 'lists a kind twice')
    .readonly()
    .default([]),
  containerOnly: z.boolean().default(false),
});

/** Why a key needs a deliberate hostname scope: an unscoped key could claim any name of every zone. */
export const KEY_SCOPE_REQUIRED =
  'a key needs a hostname scope: list the patterns its agent may claim in hostnameAllowlist ' +
  '(CLI: --allow PATTERN), or set allowAnyHostname: true (CLI: --allow-any) to let it claim any ' +
  'hostname of a managed zone except wildcards';

export const createKeyRequestSchema = z
  .strictObject({
    name: nameSchema,
    /**
     * Hostname patterns the agent may claim. A wildcard hostname (`*.apps.example.com`) is
     * claimable only through a pattern naming that wildcard or a broader one (`*.example.com`).
     */
    hostnameAllowlist: z.array(hostnamePatternSchema).max(PROTOCOL_LIMITS.allowedHostnames).default([]),
    /**
     * Any hostname of a managed zone, but no wildcard hostname (a `*.zone` route would catch every
     * unclaimed name of the zone). Exclusive with a non-empty `hostnameAllowlist`; one of the two
     * is required, so that no key is unscoped by accident.
     */
    allowAnyHostname: z.boolean().default(false),
    /** Approve the agent at its first registration (default); false = an operator approves it. */
    autoApprove: z.boolean().default(true),
    /** Absent = the default policy: refuse every kind of `SERVICE_KINDS`, any container's services. */
    servicePolicy: servicePolicySchema.default(DEFAULT_SERVICE_POLICY),
  })
  .superRefine((body, context) => {
    const listed = body.hostnameAllowlist.length > 0;
    if (listed && body.allowAnyHostname) {
      context.addIssue({
        code: 'custom',
        path: ['allowAnyHostname'],
        message: 'give either hostnameAllowlist or allowAnyHostname: true, not both',
      });
    } else if (!listed && !body.allowAnyHostname) {
      context.addIssue({ code: 'custom', path: ['hostnameAllowlist'], message: KEY_SCOPE_REQUIRED });
    }
  });
export type CreateKeyRequest = z.input<typeof createKeyRequestSchema>;

/** A key as the API shows it: never its secret nor the secret's hash. */
export const keyViewSchema = z.object({
  id: keyIdSchema,
  name: z.string(),
  /** The patterns its agent may claim; empty when `allowAnyHostname`. */
  hostnameAllowlist: z.array(z.string()),
  /** Any hostname of a managed zone except wildcards (keys from before scopes were required are). */
  allowAnyHostname: z.boolean(),
  autoApprove: z.boolean(),
  servicePolicy: z.object({ allow: z.array(z.enum(SERVICE_KINDS)).readonly(), containerOnly: z.boolean() }),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  agentId: z.string().nullable(),
});
export type KeyView = z.infer<typeof keyViewSchema>;

export const createKeyResponseSchema = z.object({
  /** The full key: shown once, never stored by the master. Put it in the agent's TUNNELFLEET_API_KEY. */
  key: z.string(),
  record: keyViewSchema,
});
export type CreateKeyResponse = z.infer<typeof createKeyResponseSchema>;

export const listKeysResponseSchema = z.object({ keys: z.array(keyViewSchema) });
export type ListKeysResponse = z.infer<typeof listKeysResponseSchema>;

export const revokeKeyResponseSchema = z.object({ key: keyViewSchema });
export type RevokeKeyResponse = z.infer<typeof revokeKeyResponseSchema>;
