import { z } from 'zod';
import { PROTOCOL_LIMITS } from '../protocol/limits.js';
import { nameSchema } from '../protocol/primitives.js';
import { hostnamePatternSchema } from '../protocol/register.js';

/** Agent keys: `/keys`, `/keys/:id/revoke`. */

export const keyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, '16 lower-case hex characters (the key id)');
export const keyIdParamsSchema = z.strictObject({ id: keyIdSchema });

export const createKeyRequestSchema = z.strictObject({
  name: nameSchema,
  /** Hostname patterns the agent may claim; empty or absent = any hostname of a managed zone. */
  hostnameAllowlist: z.array(hostnamePatternSchema).max(PROTOCOL_LIMITS.allowedHostnames).default([]),
  /** Approve the agent at its first registration (default); false = an operator approves it. */
  autoApprove: z.boolean().default(true),
});
export type CreateKeyRequest = z.input<typeof createKeyRequestSchema>;

/** A key as the API shows it: never its secret nor the secret's hash. */
export const keyViewSchema = z.object({
  id: keyIdSchema,
  name: z.string(),
  hostnameAllowlist: z.array(z.string()),
  autoApprove: z.boolean(),
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
