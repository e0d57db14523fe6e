import { z } from 'zod';
import { nameSchema } from '../protocol/primitives.js';

/** Alert receivers and deliveries: `/alerts/receivers`, `/alerts/receivers/:id/test`, `/alerts/deliveries`. */

/** Every event the master can send to a receiver (`rollout.halted`: by `agents/rollout-driver.ts`). */
export const ALERT_EVENT_TYPES = [
  'agent.offline',
  'agent.online',
  'agent.revoked',
  'cloudflared.unhealthy',
  'cloudflared.recovered',
  'route.error',
  'route.conflict',
  'cloudflare.token_failed',
  'cloudflare.budget_exhausted',
  'rollout.halted',
  'alert.test',
] as const;
export const alertEventTypeSchema = z.enum(ALERT_EVENT_TYPES);
export type AlertEventType = z.infer<typeof alertEventTypeSchema>;

/** `generic` is the signed JSON envelope; the others are shaped for the service of that name. */
export const ALERT_FORMATS = ['generic', 'slack', 'discord', 'ntfy'] as const;
export const alertFormatSchema = z.enum(ALERT_FORMATS);
export type AlertFormat = z.infer<typeof alertFormatSchema>;

export const alertReceiverIdSchema = z.string().regex(/^ar_[0-9a-f]{16}$/, 'ar_ and 16 hex characters');
export const alertReceiverParamsSchema = z.strictObject({ id: alertReceiverIdSchema });

const receiverUrlSchema = z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).max(2048);

export const createAlertReceiverRequestSchema = z.strictObject({
  name: nameSchema,
  url: receiverUrlSchema,
  format: alertFormatSchema.default('generic'),
  /** Events this receiver gets; empty or absent = every event. */
  events: z.array(alertEventTypeSchema).max(ALERT_EVENT_TYPES.length).default([]),
  enabled: z.boolean().default(true),
});
export type CreateAlertReceiverRequest = z.input<typeof createAlertReceiverRequestSchema>;

export const updateAlertReceiverRequestSchema = z
  .strictObject({
    name: nameSchema,
    url: receiverUrlSchema,
    format: alertFormatSchema,
    events: z.array(alertEventTypeSchema).max(ALERT_EVENT_TYPES.length),
    enabled: z.boolean(),
  })
  .partial();
export type UpdateAlertReceiverRequest = z.input<typeof updateAlertReceiverRequestSchema>;

/**
 * A receiver as the API shows it. Neither the signing secret nor the full URL: Slack and Discord
 * webhook URLs and ntfy topics are credentials themselves, so only the origin is shown.
 */
export const alertReceiverViewSchema = z.object({
  id: alertReceiverIdSchema,
  name: z.string(),
  urlOrigin: z.string(),
  format: alertFormatSchema,
  events: z.array(alertEventTypeSchema),
  enabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AlertReceiverView = z.infer<typeof alertReceiverViewSchema>;

export const createAlertReceiverResponseSchema = z.object({
  /** HMAC-SHA256 key of `X-Tunnelfleet-Signature`: shown once, never returned again. */
  secret: z.string(),
  receiver: alertReceiverViewSchema,
});
export type CreateAlertReceiverResponse = z.infer<typeof createAlertReceiverResponseSchema>;

export const alertReceiverResponseSchema = z.object({ receiver: alertReceiverViewSchema });
export type AlertReceiverResponse = z.infer<typeof alertReceiverResponseSchema>;

export const listAlertReceiversResponseSchema = z.object({ receivers: z.array(alertReceiverViewSchema) });
export type ListAlertReceiversResponse = z.infer<typeof listAlertReceiversResponseSchema>;

export const ALERT_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export const alertDeliveryStatusSchema = z.enum(ALERT_DELIVERY_STATUSES);

export const alertDeliveryViewSchema = z.object({
  id: z.number().int(),
  receiverId: z.string(),
  eventId: z.string(),
  eventType: alertEventTypeSchema,
  status: alertDeliveryStatusSchema,
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  deliveredAt: z.string().nullable(),
});
export type AlertDeliveryView = z.infer<typeof alertDeliveryViewSchema>;

export const alertDeliveriesQuerySchema = z.strictObject({
  receiverId: alertReceiverIdSchema.optional(),
  status: alertDeliveryStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const listAlertDeliveriesResponseSchema = z.object({ deliveries: z.array(alertDeliveryViewSchema) });
export type ListAlertDeliveriesResponse = z.infer<typeof listAlertDeliveriesResponseSchema>;

export const testAlertResponseSchema = z.object({ delivery: alertDeliveryViewSchema });
export type TestAlertResponse = z.infer<typeof testAlertResponseSchema>;
