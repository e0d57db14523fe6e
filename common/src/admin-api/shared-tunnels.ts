import { z } from 'zod';
import { identifierSchema } from '../protocol/primitives.js';

/**
 * Shared tunnels: `/tunnels`, `/tunnels/:name`, `/tunnels/:name/members`,
 * `/tunnels/:name/members/:agentId`. A shared tunnel is one Cloudflare tunnel that several member
 * agents each run a connector for; a route's `tunnel` label may name it only from a member.
 */

/** Cloudflare spreads a tunnel's traffic over at most this many connectors (cloudflared replicas). */
export const SHARED_TUNNEL_MAX_MEMBERS = 25;

/**
 * What a route's `tunnel` label can name (the label parser's tunnel-name rule), less the
 * `tunnelfleet-` prefix of the agents' own tunnels and Labelgate's `default` (the agent's own).
 */
export const sharedTunnelNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'letters, digits, "._-", at most 64, starting with a letter or digit',
  )
  .refine((name) => !name.toLowerCase().startsWith('tunnelfleet-'), {
    message: 'names starting with "tunnelfleet-" are the agents\' own tunnels',
  })
  .refine((name) => name.toLowerCase() !== 'default', {
    message: '"default" names the agent\'s own tunnel in Labelgate labels',
  });

const membersSchema = z
  .array(identifierSchema)
  .max(SHARED_TUNNEL_MAX_MEMBERS, `a tunnel has at most ${SHARED_TUNNEL_MAX_MEMBERS} connectors`)
  .refine((ids) => new Set(ids).size === ids.length, { message: 'an agent is listed twice' });

export const createSharedTunnelRequestSchema = z.strictObject({
  name: sharedTunnelNameSchema,
  members: membersSchema.default([]),
});
export type CreateSharedTunnelRequest = z.input<typeof createSharedTunnelRequestSchema>;

export const sharedTunnelParamsSchema = z.strictObject({ name: sharedTunnelNameSchema });
export const sharedTunnelMemberParamsSchema = z.strictObject({
  name: sharedTunnelNameSchema,
  agentId: identifierSchema,
});
export const addSharedTunnelMemberRequestSchema = z.strictObject({ agentId: identifierSchema });

const sharedTunnelMemberViewSchema = z.object({
  agentId: z.string(),
  agentName: z.string(),
  addedAt: z.string(),
  /**
   * Its connector as its last heartbeat reported it (`state` as for its own cloudflared, `ready`:
   * connected to the edge); null when it reported none (not joined yet, or an older agent).
   */
  connector: z
    .object({ state: z.string(), ready: z.boolean(), connectorId: z.string().nullable() })
    .nullable(),
});

export const sharedTunnelViewSchema = z.object({
  name: z.string(),
  tunnelId: z.string(),
  createdAt: z.string(),
  members: z.array(sharedTunnelMemberViewSchema),
  /** Routes whose `tunnel` label names it. */
  routes: z.number().int(),
});
export type SharedTunnelView = z.infer<typeof sharedTunnelViewSchema>;

export const sharedTunnelResponseSchema = z.object({ tunnel: sharedTunnelViewSchema });
export type SharedTunnelResponse = z.infer<typeof sharedTunnelResponseSchema>;

export const listSharedTunnelsResponseSchema = z.object({ tunnels: z.array(sharedTunnelViewSchema) });
export type ListSharedTunnelsResponse = z.infer<typeof listSharedTunnelsResponseSchema>;

/** `DELETE /tunnels/:name`: what went with it. */
export const deleteSharedTunnelResponseSchema = z.object({
  name: z.string(),
  tunnelId: z.string(),
  /** Members told to stop their connector. */
  stoppedMembers: z.array(z.string()),
  /** Routes that named it: now `invalid`, their records, rules and Access apps withdrawn. */
  routes: z.number().int(),
});
export type DeleteSharedTunnelResponse = z.infer<typeof deleteSharedTunnelResponseSchema>;
