/**
 * A route the gateway refused while serving the rest of its table (docs/gateway.md, "A refused
 * route"): what `PUT /config` answers, what the agent reports in its heartbeat, what the master
 * shows as the route's status. One shape for all three.
 */

import { z } from 'zod';
import { MAX_ROUTES } from './routing-table.js';

/**
 * `unsupported_field`: a field or value this gateway does not know (an older gateway image than
 * the agent or master that wrote the route); `invalid_route`: the route breaks the schema;
 * `invalid_regex`: a regex the gateway cannot run in linear time; `duplicate_id`: two routes of
 * the table share the id (both are refused: neither can be told apart).
 */
export const routeRefusalCodeSchema = z.enum([
  'unsupported_field',
  'invalid_route',
  'invalid_regex',
  'duplicate_id',
]);
export type RouteRefusalCode = z.infer<typeof routeRefusalCodeSchema>;

/** Characters of a refusal's reason: enough for the first problems, small enough for a heartbeat. */
export const REFUSAL_MESSAGE_LENGTH = 400;
/** Refusals one heartbeat may carry; an agent with more reports its gateway not ready (fail closed). */
export const MAX_REPORTED_REFUSALS = 100;

export const routeRefusalSchema = z.strictObject({
  /** The route's id as the table gave it (`routes[<index>]` when it had no readable id). */
  id: z.string().min(1).max(200),
  code: routeRefusalCodeSchema,
  message: z.string().max(REFUSAL_MESSAGE_LENGTH),
});
export type RouteRefusal = z.infer<typeof routeRefusalSchema>;

/** What the gateway answers to an accepted `PUT /config`; `refused` is absent from older gateways. */
export const configPushAnswerSchema = z.object({
  version: z.number().int().positive(),
  routes: z.number().int().min(0),
  refused: z.array(routeRefusalSchema).max(MAX_ROUTES).default([]),
});
export type ConfigPushAnswer = z.infer<typeof configPushAnswerSchema>;
