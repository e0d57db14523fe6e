/**
 * The gateway's routing table: what the master decides a host's gateway routes (sent with the
 * `set_gateway_routes` command) and what the agent pushes to the gateway's `PUT /config`. The
 * schema lives here so that both ends validate one shape.
 */

import { z } from 'zod';
import { checkHostname } from '../labels/hostname.js';

/** Most routes one table may hold: a host runs far fewer containers; a bigger push is a mistake. */
const MAX_ROUTES = 10_000;

const hostnameSchema = z.string().transform((text, ctx) => {
  const checked = checkHostname(text, { wildcard: true, singleLabel: true });
  if (!checked.ok) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} ${checked.reason}` });
    return z.NEVER;
  }
  return checked.value;
});

/** An origin only (`http://app:8080`): the request's own path is appended. */
const backendUrlSchema = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text)} is not an absolute URL` });
    return z.NEVER;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'a backend must be http:// or https://' });
    return z.NEVER;
  }
  if (url.pathname !== '/' || url.search || url.hash || url.username || url.password) {
    ctx.addIssue({ code: 'custom', message: 'a backend is an origin only: no path, query or credentials' });
    return z.NEVER;
  }
  return url.origin;
});

const pathMatchSchema = z
  .object({
    /** `prefix` matches whole path segments (`/api` matches `/api` and `/api/x`, not `/apix`). */
    type: z.enum(['prefix', 'exact']),
    value: z.string().max(1024).startsWith('/', 'a path starts with "/"'),
  })
  .strict();

/** Docker container names: what the agent starts and stops for a waking route. */
const containerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a Docker container name');

/**
 * Wake on request: the container sleeps until a request comes, and is stopped again after
 * `idleTimeoutMs` without one (0: never).
 */
const wakeSchema = z
  .object({
    container: containerNameSchema,
    /** Started first, in this order. */
    dependsOn: z.array(containerNameSchema).max(20).default([]),
    startTimeoutMs: z.number().int().min(1_000).max(3_600_000).default(60_000),
    idleTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400_000)
      .default(0),
    /** Probed with GET (2xx is ready); unset: a TCP connect to the backend. */
    healthPath: z.string().max(1024).startsWith('/').optional(),
    /** Where the loading page sends the browser once the container is ready: a path on this host. */
    redirectPath: z
      .string()
      .max(1024)
      .regex(/^\/(?!\/)[^\s"<>\\]*$/, 'a path on the same host ("/…", not "//host")')
      .default('/'),
  })
  .strict();

export const gatewayRouteSchema = z
  .object({
    /** Stable id from the agent (the master's route id): metrics and logs name the route by it. */
    id: z.string().min(1).max(200),
    /** Exact (`app.example.com`) or wildcard (`*.example.com`, any depth below it). */
    hostname: hostnameSchema,
    path: pathMatchSchema.default({ type: 'prefix', value: '/' }),
    backend: z.object({ url: backendUrlSchema }).strict(),
    wake: wakeSchema.optional(),
  })
  .strict();

export const routingTableSchema = z
  .object({
    /** Only increases: a push older than or equal to the table served is refused. */
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    routes: z.array(gatewayRouteSchema).max(MAX_ROUTES),
  })
  .strict();

export type RoutingTableInput = z.input<typeof routingTableSchema>;
export type RoutingTable = z.output<typeof routingTableSchema>;
export type GatewayRoute = z.output<typeof gatewayRouteSchema>;
export type WakeSettings = z.output<typeof wakeSchema>;
