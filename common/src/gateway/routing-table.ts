/**
 * The gateway's routing table: what the master decides a host's gateway routes (sent with the
 * `set_gateway_routes` command) and what the agent pushes to the gateway's `PUT /config`. The
 * schema lives here so that both ends validate one shape.
 */

import { z } from 'zod';
import { checkHostname } from '../labels/hostname.js';
import { toJavaScriptRegex } from '../labels/path-regex.js';
import { showValue } from '../labels/problems.js';
import { checkCron, checkTimeZone } from './wake-schedule.js';

/** Most routes one table may hold: a host runs far fewer containers; a bigger push is a mistake. */
export const MAX_ROUTES = 10_000;

const hostname = (wildcard: boolean) =>
  z.string().transform((text, ctx) => {
    const checked = checkHostname(text, { wildcard, singleLabel: true });
    if (!checked.ok) {
      ctx.addIssue({ code: 'custom', message: `${showValue(text)} ${checked.reason}` });
      return z.NEVER;
    }
    return checked.value;
  });
const hostnameSchema = hostname(true);
/** A name a request is sent to or redirected to: no wildcard. */
export const targetHostnameSchema = hostname(false);

/** An origin only (`http://app:8080`): the request's own path is appended. */
export const backendUrlSchema = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `${showValue(text)} is not an absolute URL` });
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

/** An RE2 expression (as cloudflared's paths), checked to have a JavaScript form of the same meaning. */
const regexSchema = z
  .string()
  .max(1024)
  .superRefine((text, ctx) => {
    const checked = toJavaScriptRegex(text);
    if (!checked.ok) ctx.addIssue({ code: 'custom', message: `${showValue(text)} ${checked.reason}` });
  });

const pathMatchSchema = z.discriminatedUnion('type', [
  z
    .object({
      /** `prefix` matches whole path segments (`/api` matches `/api` and `/api/x`, not `/apix`). */
      type: z.enum(['prefix', 'exact']),
      value: z.string().max(1024).startsWith('/', 'a path starts with "/"'),
    })
    .strict(),
  /** Unanchored, as cloudflared's path regex: `^` and `$` anchor it. */
  z.object({ type: z.literal('regex'), value: regexSchema }).strict(),
]);

/** An HTTP field name (RFC 9110 token), lower-cased: header names are case-insensitive. */
export const headerNameSchema = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/, 'must be an HTTP header name')
  .transform((name) => name.toLowerCase());

/** Headers no filter may touch: they frame the message or name the hop, which the gateway owns. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
]);
export const modifiableHeaderSchema = headerNameSchema.refine(
  (name) => !RESERVED_HEADERS.has(name),
  'is a header the gateway owns (framing, hop-by-hop or Host: use rewrite.hostname for Host)',
);
/** A field value: visible characters, spaces and tabs, no line breaks (no header injection). */
export const headerValueSchema = z
  .string()
  .max(4096)
  .regex(/^[\t\x20-\x7e\x80-\uffff]*$/, 'must not hold line breaks or control characters');

const valueMatchSchema = z.discriminatedUnion('type', [
  z.object({ name: headerNameSchema, type: z.literal('exact'), value: z.string().max(4096) }).strict(),
  z.object({ name: headerNameSchema, type: z.literal('regex'), value: regexSchema }).strict(),
]);

/** Conditions besides hostname and path; every one given must hold. */
const matchSchema = z
  .object({
    /** Upper-case, as sent (`GET`, `POST`). */
    method: z
      .string()
      .regex(/^[A-Z]{1,20}$/, 'must be an upper-case HTTP method')
      .optional(),
    /** Header names are case-insensitive; a header sent several times is matched on its joined value. */
    headers: z.array(valueMatchSchema).max(16).optional(),
    /** Query parameter names are case-sensitive; the first value is matched. */
    query: z
      .array(
        z.discriminatedUnion('type', [
          z
            .object({
              name: z.string().min(1).max(100),
              type: z.literal('exact'),
              value: z.string().max(4096),
            })
            .strict(),
          z
            .object({ name: z.string().min(1).max(100), type: z.literal('regex'), value: regexSchema })
            .strict(),
        ]),
      )
      .max(16)
      .optional(),
  })
  .strict();

/** Gateway API's header modifier: `set` replaces, `add` appends, `remove` drops. */
const headerModifierSchema = z
  .object({
    set: z
      .array(z.object({ name: modifiableHeaderSchema, value: headerValueSchema }).strict())
      .max(32)
      .optional(),
    add: z
      .array(z.object({ name: modifiableHeaderSchema, value: headerValueSchema }).strict())
      .max(32)
      .optional(),
    remove: z.array(modifiableHeaderSchema).max(32).optional(),
  })
  .strict();

export const redirectPathSchema = z
  .string()
  .max(1024)
  .regex(/^\/(?!\/)[^\s"<>\\]*$/, 'a path ("/…", not "//host")');

/** Answered by the gateway with a 3xx; unset parts keep the request's own. */
const redirectSchema = z
  .object({
    scheme: z.enum(['http', 'https']).optional(),
    hostname: targetHostnameSchema.optional(),
    port: z.number().int().min(1).max(65_535).optional(),
    /** Replaces the whole path; the query is kept. */
    path: redirectPathSchema.optional(),
    statusCode: z
      .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
      .default(302),
  })
  .strict();

/** What the backend is sent instead of the request's own host and path. */
const rewriteSchema = z
  .object({
    /** The `Host` the backend sees (`X-Forwarded-Host` keeps the public one). */
    hostname: targetHostnameSchema.optional(),
    /**
     * Replaces what the path match matched: the prefix of a `prefix` match, the whole path of an
     * `exact` one, the matched text of a `regex` one. The rest of the path and the query are kept.
     */
    pathPrefix: redirectPathSchema.optional(),
  })
  .strict();

const filtersSchema = z
  .object({
    requestHeaders: headerModifierSchema.optional(),
    responseHeaders: headerModifierSchema.optional(),
    redirect: redirectSchema.optional(),
    rewrite: rewriteSchema.optional(),
    /** A copy of each request goes there too; its answer is ignored and never delays the request. */
    mirror: z.object({ url: backendUrlSchema }).strict().optional(),
  })
  .strict();

/** Docker container names: what the agent starts and stops for a waking route. */
const containerNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'must be a Docker container name');

const cronSchema = z.string().superRefine((value, ctx) => {
  const checked = checkCron(value);
  if (!checked.ok) ctx.addIssue({ code: 'custom', message: `${showValue(value)} ${checked.reason}` });
});

/** When the agent starts and stops the container besides requests and idleness (`wake-schedule.ts`). */
const wakeScheduleSchema = z
  .object({
    start: cronSchema.optional(),
    stop: cronSchema.optional(),
    timeZone: z
      .string()
      .default('UTC')
      .superRefine((value, ctx) => {
        const checked = checkTimeZone(value);
        if (!checked.ok) ctx.addIssue({ code: 'custom', message: `${showValue(value)} ${checked.reason}` });
      }),
  })
  .strict()
  .refine((schedule) => schedule.start !== undefined || schedule.stop !== undefined, {
    message: 'a schedule needs a start or a stop',
  });

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
    schedule: wakeScheduleSchema.optional(),
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
    match: matchSchema.optional(),
    /**
     * Routes with the same hostname, path and match form a group: each request goes to one member,
     * round-robin when their weights are equal, else at random in proportion to them (default 1;
     * 0: never chosen, as a drained member).
     */
    weight: z.number().int().min(0).max(1_000_000).optional(),
    filters: filtersSchema.optional(),
  })
  .strict();

export const routingTableSchema = z
  .object({
    /** Only increases: a push older than or equal to the table served is refused. */
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    routes: z.array(gatewayRouteSchema).max(MAX_ROUTES),
  })
  .strict();

/**
 * The table as the gateway first reads it: the version and a list of routes, each judged on its
 * own afterwards (a route the gateway cannot serve is refused, not the whole table).
 */
export const routingTableEnvelopeSchema = routingTableSchema.extend({
  routes: z.array(z.unknown()).max(MAX_ROUTES),
});

export type RoutingTableInput = z.input<typeof routingTableSchema>;
export type RoutingTable = z.output<typeof routingTableSchema>;
export type GatewayRoute = z.output<typeof gatewayRouteSchema>;
export type WakeSettings = z.output<typeof wakeSchema>;
export type GatewayPathMatch = z.output<typeof pathMatchSchema>;
export type GatewayMatch = z.output<typeof matchSchema>;
export type GatewayFilters = z.output<typeof filtersSchema>;
/**
 * A gateway route's fields beyond hostname, path, backend and wake, as the label parser reads them
 * (`ParsedRoute.l7`): the master spreads them into the route it sends.
 */
export type GatewayL7 = Pick<GatewayRoute, 'match' | 'weight' | 'filters'>;
export type GatewayHeaderModifier = z.output<typeof headerModifierSchema>;
