import { z } from 'zod';
import { bypassProblem } from '../labels/access.js';
import { identifierSchema } from '../protocol/primitives.js';

/** Named Access policies that labels refer to: `/access-policies`, `/access-policies/:id`. */

const emptyObject = z.strictObject({});
/** One Cloudflare Access rule, in the API's shape (as the label parser produces them). */
export const accessRuleSchema = z.union([
  z.strictObject({ email: z.strictObject({ email: z.email().max(320) }) }),
  z.strictObject({ email_domain: z.strictObject({ domain: z.string().min(1).max(253) }) }),
  z.strictObject({ everyone: emptyObject }),
  z.strictObject({ service_token: z.strictObject({ token_id: z.string().min(1).max(64) }) }),
  z.strictObject({ any_valid_service_token: emptyObject }),
  z.strictObject({ group: z.strictObject({ id: z.string().min(1).max(64) }) }),
  z.strictObject({ ip: z.strictObject({ ip: z.string().min(1).max(64) }) }),
  z.strictObject({
    geo: z.strictObject({ country_code: z.string().regex(/^[A-Z]{2}$/, 'two upper-case letters') }),
  }),
  z.strictObject({ login_method: z.strictObject({ id: z.string().min(1).max(64) }) }),
  z.strictObject({ certificate: emptyObject }),
]);

const accessRules = z.array(accessRuleSchema).max(100);

/** What a named policy decides, pushed to Cloudflare as a reusable policy. */
export const namedAccessPolicySpecSchema = z
  .strictObject({
    decision: z.enum(['allow', 'deny', 'bypass', 'non_identity']),
    include: accessRules.min(1),
    require: accessRules.default([]),
    exclude: accessRules.default([]),
  })
  .superRefine((spec, ctx) => {
    // The same rule as for label-written policies: a bypass never names people.
    const problem = bypassProblem(spec.decision, [...spec.include, ...spec.require, ...spec.exclude]);
    if (problem) ctx.addIssue({ code: 'custom', path: ['decision'], message: problem });
  });
export type NamedAccessPolicySpec = z.infer<typeof namedAccessPolicySpecSchema>;

/** The name labels use to refer to the policy (`tunnelfleet.access.named_policy=<name>`). */
export const accessPolicyNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, 'letters, digits, "_", ".", ":" and "-", at most 100');

export const accessPolicyParamsSchema = z.strictObject({ id: identifierSchema });

export const createAccessPolicyRequestSchema = z.strictObject({
  name: accessPolicyNameSchema,
  spec: namedAccessPolicySpecSchema,
});
export type CreateAccessPolicyRequest = z.infer<typeof createAccessPolicyRequestSchema>;

export const updateAccessPolicyRequestSchema = z
  .strictObject({ name: accessPolicyNameSchema.optional(), spec: namedAccessPolicySpecSchema.optional() })
  .refine((body) => body.name !== undefined || body.spec !== undefined, {
    message: 'give name, spec or both',
  });
export type UpdateAccessPolicyRequest = z.infer<typeof updateAccessPolicyRequestSchema>;

export const accessPolicyViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  spec: namedAccessPolicySpecSchema,
  /** Cloudflare's id of the reusable policy; null until the reconciler has pushed it. */
  cfPolicyId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AccessPolicyView = z.infer<typeof accessPolicyViewSchema>;

export const listAccessPoliciesResponseSchema = z.object({
  policies: z.array(
    accessPolicyViewSchema.extend({
      /** Hostnames (and paths) of the routes whose labels name the policy; revoked ones left out. */
      usedBy: z.array(z.string()),
    }),
  ),
});
export type ListAccessPoliciesResponse = z.infer<typeof listAccessPoliciesResponseSchema>;

export const accessPolicyResponseSchema = z.object({ policy: accessPolicyViewSchema });
export type AccessPolicyResponse = z.infer<typeof accessPolicyResponseSchema>;
