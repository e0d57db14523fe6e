import { z } from 'zod';
import { containerIdSchema, counterSchema, identifierSchema, protocolErrorSchema } from './primitives.js';

/**
 * `ok`: applied (or already in that state — commands are idempotent);
 * `error`: could not be applied, `error` says why;
 * `ignored_stale`: its version was not above the last applied one, nothing done.
 */
const ackStatusSchema = z.enum(['ok', 'error', 'ignored_stale']);

/** What the agent did, for the audit log and the dashboard. */
const commandResultSchema = z.strictObject({
  action: z.enum(['started', 'restarted', 'replaced', 'stopped', 'unchanged']),
  containerId: containerIdSchema.optional(),
});
export type CommandResult = z.infer<typeof commandResultSchema>;

export const commandAckSchema = z
  .strictObject({
    /** Must equal the `:id` of the path. */
    commandId: identifierSchema,
    version: counterSchema,
    status: ackStatusSchema,
    error: protocolErrorSchema.optional(),
    result: commandResultSchema.optional(),
  })
  .refine((ack) => (ack.status === 'error') === (ack.error !== undefined), {
    message: 'error is required when status is "error" and forbidden otherwise',
    path: ['error'],
  });
export type CommandAck = z.infer<typeof commandAckSchema>;

export const commandAckResponseSchema = z.strictObject({ ok: z.literal(true) });
export type CommandAckResponse = z.infer<typeof commandAckResponseSchema>;
