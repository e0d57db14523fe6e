import { z } from 'zod';
import { PROTOCOL_LIMITS } from '../protocol/limits.js';
import { identifierSchema } from '../protocol/primitives.js';
import { auditEntrySchema } from './audit.js';

/**
 * Published routes (hostname + path of a container): `/routes`. Beside them, retained routes: a
 * `cleanup=false` route whose container is gone for good stays published, with no container, until
 * an operator deletes it (`DELETE /routes/retained/:id`), its agent is revoked or deleted, or a new
 * route claims its hostname.
 */

export const ROUTE_STATUSES = [
  'active',
  'pending_deletion',
  'invalid',
  'conflict',
  'error',
  'revoked',
] as const;
export type RouteStatus = (typeof ROUTE_STATUSES)[number];
export const routeStatusSchema = z.enum(ROUTE_STATUSES);

/** `status=retained` lists only retained routes; any other status only container routes. */
export const RETAINED_STATUS = 'retained';

export const ROUTE_SORTS = ['hostname', 'status', 'agent', 'zone', 'updated'] as const;
export type RouteSort = (typeof ROUTE_SORTS)[number];

/**
 * What the routes may be grouped by: the page is then ordered by group first (groups in ascending
 * order, `sort` and `order` within each), and the answer lists every group with its count.
 * `policy` is the route's named Access policies, Access from its own labels, or none.
 */
export const ROUTE_GROUPS = ['agent', 'status', 'zone', 'policy'] as const;
export type RouteGroupBy = (typeof ROUTE_GROUPS)[number];

/**
 * Filters, and (for long tables) a page: without `limit` every matching route is listed. `q` finds
 * routes whose hostname or container name contains it; `sort` and `order` order them.
 */
export const routesQuerySchema = z.strictObject({
  status: z.enum([...ROUTE_STATUSES, RETAINED_STATUS]).optional(),
  agentId: identifierSchema.optional(),
  hostname: z.string().min(1).max(PROTOCOL_LIMITS.hostnameLength).optional(),
  zone: z.string().min(1).max(PROTOCOL_LIMITS.hostnameLength).optional(),
  q: z.string().min(1).max(PROTOCOL_LIMITS.hostnameLength).optional(),
  sort: z.enum(ROUTE_SORTS).default('hostname'),
  order: z.enum(['asc', 'desc']).default('asc'),
  group: z.enum(ROUTE_GROUPS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
});
export type RoutesQuery = z.infer<typeof routesQuerySchema>;

/**
 * A route that wakes on request (`wake=true`): `sleeping` while its container is stopped and
 * waits for a request (still published), `starting` while it is being woken, `running`, or
 * `failed` when it did not get ready.
 */
export const WAKE_STATES = ['sleeping', 'starting', 'running', 'failed'] as const;
export type WakeState = (typeof WAKE_STATES)[number];

/** A container that served a route before the one serving it now (a recreate or a scale-down). */
export const replacedContainerSchema = z.object({
  containerId: z.string(),
  containerName: z.string(),
  replacedAt: z.string(),
});

export const routeViewSchema = z.object({
  id: z.number().int(),
  agentId: z.string(),
  /** Who the route belongs to on its agent: `compose:<project>/<service>` or `container:<name>`. */
  identity: z.string(),
  /** The container serving the route now. */
  containerId: z.string(),
  containerName: z.string(),
  /** Running containers of the identity carrying the route (a scaled service); one serves. */
  replicas: z.number().int(),
  /** Earlier servers, newest first. */
  replaced: z.array(replacedContainerSchema),
  routeKey: z.string(),
  hostname: z.string().nullable(),
  path: z.string(),
  service: z.string().nullable(),
  zone: z.string().nullable(),
  tunnelName: z.string().nullable(),
  status: routeStatusSchema,
  statusMessage: z.string().nullable(),
  /** Null for a route that does not wake on request. */
  wakeState: z.enum(WAKE_STATES).nullable(),
  /**
   * The ids of the routes of its agent that share its hostname and path through the host's
   * gateway (itself included, earliest claim first), which the gateway chooses among by weight
   * and match; null for a route alone on its hostname and path.
   */
  gatewayGroup: z.array(z.number().int()).nullable(),
  problems: z.array(z.unknown()),
  deleteAfter: z.string().nullable(),
  claimedAt: z.string(),
  updatedAt: z.string(),
});
export type RouteView = z.infer<typeof routeViewSchema>;

export const retainedRouteIdSchema = z
  .string()
  .regex(/^rr_[0-9a-f]{16}$/, '"rr_" and 16 lower-case hex characters (a retained route id)');
export const retainedRouteParamsSchema = z.strictObject({ id: retainedRouteIdSchema });

/** A retained route: still published (rule, record, app) on its agent's tunnel, without a container. */
export const retainedRouteViewSchema = z.object({
  id: retainedRouteIdSchema,
  agentId: z.string(),
  /** The container that published it, gone since. */
  containerName: z.string(),
  hostname: z.string(),
  path: z.string(),
  service: z.string(),
  zone: z.string().nullable(),
  tunnelId: z.string(),
  retainedAt: z.string(),
});
export type RetainedRouteView = z.infer<typeof retainedRouteViewSchema>;

/** One group of a grouped listing: its rows are `offset` to `offset + count - 1` of the whole. */
export const routeGroupSchema = z.object({
  /** The agent id, status or zone; for `policy` the JSON list of named policies, `#labels` or `#none`. */
  key: z.string().nullable(),
  /** What a header shows: the agent's name and id, the zone, the policies… */
  label: z.string(),
  count: z.number().int(),
  offset: z.number().int(),
});
export type RouteGroup = z.infer<typeof routeGroupSchema>;

export const listRoutesResponseSchema = z.object({
  /** This page of the matching container routes. */
  routes: z.array(routeViewSchema),
  /** How many container routes match the filters (every page together). */
  total: z.number().int(),
  /** With `group`: every group of the matching routes, in the order of the rows. */
  groups: z.array(routeGroupSchema).optional(),
  /** Retained routes matching the same `agentId` and `hostname` filters. */
  retained: z.array(retainedRouteViewSchema),
});
export type ListRoutesResponse = z.infer<typeof listRoutesResponseSchema>;

/**
 * A hostname (and path) Cloudflare serves without Access: `GET /routes/public`. Under
 * `REQUIRE_ACCESS=true` only routes marked public on purpose (`tunnelfleet.access.public=true`)
 * can be here, and retained or earlier routes published before the setting was turned on.
 */
export const publicRouteViewSchema = z.object({
  hostname: z.string(),
  path: z.string(),
  service: z.string().nullable(),
  agentId: z.string(),
  containerName: z.string(),
  /** The container route's status, or `retained` for a retained route. */
  status: z.enum([...ROUTE_STATUSES, RETAINED_STATUS]),
  /** The labels say `access.public=true`: public on purpose, not a forgotten label. */
  markedPublic: z.boolean(),
});
export type PublicRouteView = z.infer<typeof publicRouteViewSchema>;

export const publicRoutesResponseSchema = z.object({
  /** Whether the master runs with `REQUIRE_ACCESS=true`. */
  requireAccess: z.boolean(),
  routes: z.array(publicRouteViewSchema),
});
export type PublicRoutesResponse = z.infer<typeof publicRoutesResponseSchema>;

export const routeIdParamsSchema = z.strictObject({
  id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

/**
 * What the host's gateway counted for a route that goes through it, as its agent last forwarded
 * it (docs/gateway.md, Metrics): totals since the master started, carried over gateway restarts.
 */
export const routeTrafficSchema = z.object({
  /** Requests answered, in all and by status class (`2xx`…). */
  requests: z.number().int(),
  requestsByStatusClass: z.record(z.string(), z.number().int()),
  /** Seconds of all those requests together (divide by `requests` for the mean). */
  requestSeconds: z.number(),
  /** Wakes that ended ready, their seconds together, and wakes that ran out of time. */
  wakes: z.number().int(),
  wakeSeconds: z.number(),
  wakeTimeouts: z.number().int(),
  idleStops: z.number().int(),
  /** When the agent last sent the route's numbers. */
  reportedAt: z.string(),
});
export type RouteTrafficView = z.infer<typeof routeTrafficSchema>;

/** One route with where it came from and what stands behind it: `GET /routes/:id`. */
export const routeDetailSchema = z.object({
  route: routeViewSchema,
  /** The labels of the container serving it, as last reported. */
  labels: z.record(z.string(), z.string()),
  /** Which tool's label language the route was written in; null when the labels no longer say. */
  language: z.enum(['tunnelfleet', 'dockflare', 'labelgate', 'dag']).nullable(),
  /** The Cloudflare objects Tunnelfleet owns for its hostname and path. */
  cloudflare: z.object({
    dnsRecords: z.array(z.object({ id: z.string(), zoneId: z.string() })),
    ingressRules: z.array(z.object({ tunnelId: z.string() })),
    accessApps: z.array(z.object({ id: z.string() })),
  }),
  /** Audit entries naming its hostname, newest first. */
  history: z.array(auditEntrySchema),
  /** Null: not through a gateway, or nothing counted since the master started. */
  traffic: routeTrafficSchema.nullable(),
});
export type RouteDetail = z.infer<typeof routeDetailSchema>;
export const routeDetailResponseSchema = z.object({ detail: routeDetailSchema });
export type RouteDetailResponse = z.infer<typeof routeDetailResponseSchema>;
