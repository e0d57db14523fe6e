import { z } from 'zod';
import { MAX_REPORTED_REFUSALS, routeRefusalSchema } from '../gateway/route-refusal.js';
import { gatewayTrafficSchema } from './gateway-traffic.js';
import {
  containerIdSchema,
  counterSchema,
  identifierSchema,
  imageRefSchema,
  messageSchema,
  tunnelIdSchema,
} from './primitives.js';
import { approvalStatusSchema } from './register.js';

/**
 * `missing`: no managed cloudflared container exists (never started or removed);
 * `restarting`: the supervisor is backing off before starting it again;
 * `failed`: cloudflared refused its configuration (command line, token) and is not restarted
 * until a command changes it.
 */
const cloudflaredStateSchema = z.enum(['running', 'stopped', 'restarting', 'missing', 'failed']);
export type CloudflaredState = z.infer<typeof cloudflaredStateSchema>;

/**
 * Why cloudflared last stopped, while it is down. `edge_unreachable`: it could not find Cloudflare's
 * edge (offline host, broken DNS) and exited, as it does; `invalid_arguments` and `token_refused`:
 * it refused its configuration; `exited`: any other exit.
 */
const cloudflaredProblemSchema = z.strictObject({
  code: z.enum(['edge_unreachable', 'invalid_arguments', 'token_refused', 'exited']),
  message: messageSchema,
});
export type CloudflaredProblem = z.infer<typeof cloudflaredProblemSchema>;

const cloudflaredStatusSchema = z.strictObject({
  state: cloudflaredStateSchema,
  /** cloudflared's metrics `/ready` answered 200 (it has at least one edge connection). */
  ready: z.boolean(),
  tunnelId: tunnelIdSchema.nullable(),
  containerId: containerIdSchema.nullable(),
  image: imageRefSchema.nullable().optional(),
  problem: cloudflaredProblemSchema.optional(),
  // Optional, so that agents from before they were reported stay compatible.
  /** cloudflared's release, from the `build_info` metric (`2023.7.3`). */
  version: z.string().min(1).max(64).optional(),
  /** From cloudflared's `/ready`: this host's connector of the tunnel. */
  connectorId: z.guid().optional(),
  /** The version of the tunnel configuration cloudflared serves (its `/config`). */
  configVersion: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type CloudflaredStatus = z.infer<typeof cloudflaredStatusSchema>;

/**
 * The host's L7 gateway (docs/gateway.md), when the agent runs one (`GATEWAY_IMAGE`). `ready`: its
 * API answers and serves the routes last given; `serviceUrl`: what cloudflared's ingress names for
 * a route through it; `tableVersion`: the version of the routing table it serves (absent: none).
 */
const gatewayStatusSchema = z.strictObject({
  state: z.enum(['running', 'restarting', 'missing', 'stopped']),
  ready: z.boolean(),
  serviceUrl: z
    .string()
    .max(200)
    .regex(/^http:\/\/tunnelfleet-gateway-[0-9a-f]{1,64}:[0-9]{1,5}$/, "the gateway's own alias and port")
    .optional(),
  tableVersion: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  image: imageRefSchema,
  /**
   * The routes the gateway refused at the last push (it serves the rest): the master withholds
   * them and their status says why. Absent: none (or an agent from before refusals).
   */
  refused: z.array(routeRefusalSchema).max(MAX_REPORTED_REFUSALS).optional(),
});
export type GatewayHeartbeat = z.infer<typeof gatewayStatusSchema>;

export const heartbeatRequestSchema = z.strictObject({
  /** Must equal the id bound to the bearer key; the master answers 403 otherwise. */
  agentId: identifierSchema,
  uptimeSeconds: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  cloudflared: cloudflaredStatusSchema,
  /** Version of the last command the agent applied; `null` before the first one. */
  lastAppliedCommandVersion: counterSchema.nullable(),
  dockerReachable: z.boolean(),
  /**
   * The connectors it runs for shared tunnels, one per tunnel (`tunnelId` set). The master tells
   * it to leave any tunnel it is no longer a member of. Optional: older agents send none.
   */
  sharedTunnels: z.array(cloudflaredStatusSchema).max(100).optional(),
  /** Absent: the agent runs no gateway (no `GATEWAY_IMAGE`, or an agent from before gateways). */
  gateway: gatewayStatusSchema.optional(),
  /**
   * Per-route counts of the host's gateway (its `/metrics`), when some changed. The master takes
   * them only for this agent's own routes. Absent: nothing new, or an agent from before it.
   */
  gatewayTraffic: gatewayTrafficSchema.optional(),
});
export type HeartbeatRequest = z.infer<typeof heartbeatRequestSchema>;

export const heartbeatResponseSchema = z.strictObject({
  status: approvalStatusSchema,
  reportIntervalSeconds: z.number().int().min(1).max(3600),
  /** The master lost or doubts its view of this host: send a full snapshot now. */
  snapshotRequested: z.boolean(),
});
export type HeartbeatResponse = z.infer<typeof heartbeatResponseSchema>;
