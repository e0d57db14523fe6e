import { z } from 'zod';
import { checkLabelPrefixes, LABEL_PREFIX_MAX_LENGTH } from '../labels/label-prefixes.js';
import { PROTOCOL_LIMITS } from './limits.js';
import { identifierSchema, messageSchema, nameSchema, timestampSchema } from './primitives.js';

/** What the agent knows of its Docker engine; `null` in the request when Docker is unreachable. */
const dockerInfoSchema = z.strictObject({
  serverVersion: z.string().max(64),
  apiVersion: z.string().max(32),
  os: z.string().max(128),
  arch: z.string().max(64),
  containersRunning: z.number().int().min(0).max(1_000_000).optional(),
});
export type DockerInfo = z.infer<typeof dockerInfoSchema>;

/**
 * The host's custom DockFlare and Labelgate prefixes (`LABEL_PREFIX`, `LABELGATE_LABEL_PREFIX` on
 * the agent): the master reads that host's labels with them. Checked as the agent checks them.
 */
export const labelPrefixesSchema = z
  .strictObject({
    dockflare: z.string().max(LABEL_PREFIX_MAX_LENGTH).optional(),
    labelgate: z.string().max(LABEL_PREFIX_MAX_LENGTH).optional(),
  })
  .superRefine((prefixes, ctx) => {
    const checked = checkLabelPrefixes(prefixes);
    if (!checked.ok) ctx.addIssue({ code: 'custom', message: checked.reason });
  });

export const registerRequestSchema = z.strictObject({
  /** Operator-chosen name (TUNNELFLEET_AGENT_NAME, default the hostname). */
  name: nameSchema,
  agentVersion: z.string().min(1).max(64),
  hostname: nameSchema,
  /** The id cached in the data dir from an earlier registration, so a restart keeps its identity. */
  agentId: identifierSchema.optional(),
  docker: dockerInfoSchema.nullable(),
  /** Absent: the default prefixes (also what an agent from before this field sends). */
  labelPrefixes: labelPrefixesSchema.optional(),
});
export type RegisterRequest = z.infer<typeof registerRequestSchema>;

/** `pending` agents may heartbeat and report but receive no commands until approved. */
export const approvalStatusSchema = z.enum(['pending', 'approved']);

/** Hostname pattern of an allowlist: `app.example.com` or `*.apps.example.com`. */
export const hostnamePatternSchema = z
  .string()
  .min(1)
  .max(PROTOCOL_LIMITS.hostnameLength)
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/, 'a lower-case hostname, optionally starting with "*."');

export const registerResponseSchema = z.strictObject({
  /** Stable id bound to the API key; the agent persists it in `<data dir>/agent_id`. */
  agentId: identifierSchema,
  status: approvalStatusSchema,
  /** Heartbeat and periodic snapshot interval the master wants (overrides the local setting). */
  reportIntervalSeconds: z.number().int().min(1).max(3600),
  /**
   * Hostname patterns this agent's key may claim; `null` means "any hostname in a managed zone,
   * except wildcard hostnames" (a key created with `allowAnyHostname`).
   */
  allowedHostnames: z.array(hostnamePatternSchema).max(PROTOCOL_LIMITS.allowedHostnames).nullable(),
  serverTime: timestampSchema,
  /** Optional operator note (e.g. why the agent is pending). */
  message: messageSchema.optional(),
});
export type RegisterResponse = z.infer<typeof registerResponseSchema>;
