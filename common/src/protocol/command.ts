import { z } from 'zod';
import { gatewayRouteSchema } from '../gateway/routing-table.js';
import { PROTOCOL_LIMITS } from './limits.js';
import {
  cloudflaredLogLevelSchema,
  counterSchema,
  identifierSchema,
  imageRefSchema,
  messageSchema,
  nameSchema,
  networkNameSchema,
  timestampSchema,
  tunnelIdSchema,
  tunnelTokenSchema,
} from './primitives.js';

/** cloudflared 2023.7.3 exits 1 with "post-quantum is only supported with the quic transport". */
export function postQuantumNeedsQuic(options: { protocol?: string; postQuantum?: boolean }): boolean {
  return !(options.postQuantum && options.protocol === 'http2');
}
export const POST_QUANTUM_NEEDS_QUIC = {
  message: 'postQuantum needs the quic protocol (or auto), not http2',
  path: ['postQuantum'],
};

/**
 * The typed options an operator chooses for cloudflared, fleet-wide or per host (the admin API's
 * `PUT /cloudflared`); absent ones are cloudflared's own defaults. Each maps to one flag, on the
 * side of `run` cloudflared defines it (container-spec.ts).
 */
export const cloudflaredTunnelOptionsSchema = z.strictObject({
  protocol: z.enum(['auto', 'quic', 'http2']).optional(),
  logLevel: cloudflaredLogLevelSchema.optional(),
  /** `--edge-ip-version`: which IP family reaches Cloudflare's edge. */
  edgeIpVersion: z.enum(['auto', '4', '6']).optional(),
  /** `--region`: `us` keeps edge connections in the US region; absent is the global network. */
  region: z.enum(['us']).optional(),
  /** `--retries`: connection attempts before cloudflared gives up on an edge address. */
  retries: z.number().int().min(0).max(100).optional(),
  /** `--grace-period`: how long in-flight requests may finish after SIGTERM. */
  gracePeriodSeconds: z.number().int().min(0).max(3600).optional(),
  /** `--post-quantum` (a flag of `run`): post-quantum key agreement; needs the QUIC protocol. */
  postQuantum: z.boolean().optional(),
});
export type CloudflaredTunnelOptions = z.infer<typeof cloudflaredTunnelOptionsSchema>;

/** Optional knobs of the managed cloudflared container; absent ones use the agent's defaults. */
export const cloudflaredSettingsSchema = z
  .strictObject({
    metricsPort: z.number().int().min(1).max(65535).optional(),
    /** Appended to `cloudflared tunnel --no-autoupdate … run`; never carries the token. */
    extraArgs: z
      .array(
        z
          .string()
          .min(1)
          .max(PROTOCOL_LIMITS.extraArgLength)
          // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
          .regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters')
          .refine((arg) => !/^--?token\b/.test(arg), {
            message: 'the token is passed in the environment only',
          }),
      )
      .max(PROTOCOL_LIMITS.extraArgs)
      .optional(),
    network: networkNameSchema.optional(),
    ...cloudflaredTunnelOptionsSchema.shape,
  })
  .refine(postQuantumNeedsQuic, POST_QUANTUM_NEEDS_QUIC);
export type CloudflaredSettings = z.infer<typeof cloudflaredSettingsSchema>;

const startTunnelPayloadSchema = z.strictObject({
  tunnelId: tunnelIdSchema,
  tunnelName: nameSchema,
  token: tunnelTokenSchema,
  cloudflaredImage: imageRefSchema,
  settings: cloudflaredSettingsSchema.optional(),
});
export type StartTunnelPayload = z.infer<typeof startTunnelPayloadSchema>;

const stopTunnelPayloadSchema = z.strictObject({
  tunnelId: tunnelIdSchema,
  /** Why, for the agent log (e.g. `agent revoked`, `tunnel deleted by operator`). */
  reason: messageSchema.min(1),
});
export type StopTunnelPayload = z.infer<typeof stopTunnelPayloadSchema>;

/**
 * Only what changes is sent; `settings`, when sent, replaces the agent's settings as a whole. The
 * agent restarts cloudflared only if what it runs with (token, image, command line) changed.
 */
const updateTunnelPayloadSchema = z
  .strictObject({
    tunnelId: tunnelIdSchema,
    token: tunnelTokenSchema.optional(),
    cloudflaredImage: imageRefSchema.optional(),
    settings: cloudflaredSettingsSchema.optional(),
  })
  .refine((p) => p.token !== undefined || p.cloudflaredImage !== undefined || p.settings !== undefined, {
    message: 'update_tunnel needs at least one of token, cloudflaredImage, settings',
  });
export type UpdateTunnelPayload = z.infer<typeof updateTunnelPayloadSchema>;

/**
 * A connector for a shared tunnel, run beside the agent's own cloudflared (one container per
 * shared tunnel). Idempotent: the agent recreates the connector only if its token, image or
 * command line changed, so the master re-sends it at every registration and after a rotation.
 */
const joinSharedTunnelPayloadSchema = startTunnelPayloadSchema;
export type JoinSharedTunnelPayload = z.infer<typeof joinSharedTunnelPayloadSchema>;

/** Stops and removes the shared tunnel's connector, and forgets its token. */
const leaveSharedTunnelPayloadSchema = stopTunnelPayloadSchema;
export type LeaveSharedTunnelPayload = z.infer<typeof leaveSharedTunnelPayloadSchema>;

/**
 * The routes this host's L7 gateway serves: the agent's accepted routes that need it, as the
 * master built them (never from the agent's own reading of labels). Idempotent: the agent forwards
 * them to its gateway, which is pushed only when they differ from what it serves.
 */
const setGatewayRoutesPayloadSchema = z.strictObject({
  routes: z.array(gatewayRouteSchema).max(PROTOCOL_LIMITS.gatewayRoutes),
});
export type SetGatewayRoutesPayload = z.input<typeof setGatewayRoutesPayloadSchema>;

/** Delivery lease: if no acknowledgement arrives before `expiresAt`, the command is delivered again. */
const commandLeaseSchema = z.strictObject({
  expiresAt: timestampSchema,
  /** 1 on first delivery, then 2, 3… on redeliveries. */
  attempt: z.number().int().min(1).max(1_000_000),
});

const envelope = {
  /** The job id; used in the acknowledgement path. */
  id: identifierSchema,
  /** Monotonic per agent: a command whose version is not above the last applied one is stale. */
  version: counterSchema,
  issuedAt: timestampSchema,
  lease: commandLeaseSchema.optional(),
};

const startTunnelCommandSchema = z.strictObject({
  ...envelope,
  type: z.literal('start_tunnel'),
  payload: startTunnelPayloadSchema,
});
const stopTunnelCommandSchema = z.strictObject({
  ...envelope,
  type: z.literal('stop_tunnel'),
  payload: stopTunnelPayloadSchema,
});
const updateTunnelCommandSchema = z.strictObject({
  ...envelope,
  type: z.literal('update_tunnel'),
  payload: updateTunnelPayloadSchema,
});

const joinSharedTunnelCommandSchema = z.strictObject({
  ...envelope,
  type: z.literal('join_shared_tunnel'),
  payload: joinSharedTunnelPayloadSchema,
});
const leaveSharedTunnelCommandSchema = z.strictObject({
  ...envelope,
  type: z.literal('leave_shared_tunnel'),
  payload: leaveSharedTunnelPayloadSchema,
});

const setGatewayRoutesCommandSchema = z.strictObject({
  ...envelope,
  type: z.literal('set_gateway_routes'),
  payload: setGatewayRoutesPayloadSchema,
});

export const commandSchema = z.discriminatedUnion('type', [
  startTunnelCommandSchema,
  stopTunnelCommandSchema,
  updateTunnelCommandSchema,
  joinSharedTunnelCommandSchema,
  leaveSharedTunnelCommandSchema,
  setGatewayRoutesCommandSchema,
]);
export type Command = z.infer<typeof commandSchema>;

/** Longest wait the master holds a long-poll open; the agent's HTTP timeout must exceed it. */
export const COMMAND_POLL_MAX_WAIT_SECONDS = 120;
export const COMMAND_POLL_DEFAULT_WAIT_SECONDS = 25;
/**
 * Response header of `GET commands/next`: the wait, in seconds, the master asks agents to use in
 * their next polls (its COMMAND_POLL_WAIT_SECONDS). A header, not a body field: an agent of an
 * earlier version ignores it, where its strict reply schema would refuse a field it does not know.
 */
export const COMMAND_POLL_WAIT_HEADER = 'tunnelfleet-poll-wait-seconds';

/** Query of `GET commands/next`: `?waitSeconds=N` (0 = answer at once). */
export const nextCommandQuerySchema = z.strictObject({
  waitSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(COMMAND_POLL_MAX_WAIT_SECONDS)
    .default(COMMAND_POLL_DEFAULT_WAIT_SECONDS),
});

/**
 * Long-poll answer. Always 200 with a JSON body: `{ command: null }` when the wait ended with nothing
 * to do (chosen over 204 so every answer goes through one schema and one code path).
 */
export const nextCommandResponseSchema = z.strictObject({
  command: commandSchema.nullable(),
});
export type NextCommandResponse = z.infer<typeof nextCommandResponseSchema>;
