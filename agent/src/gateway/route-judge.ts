import {
  formatIssuePath,
  type GatewayRoute,
  gatewayRouteSchema,
  parseOrThrow,
  REFUSAL_MESSAGE_LENGTH,
  type RouteRefusal,
  type RoutingTable,
  routingTableEnvelopeSchema,
} from '@tunnelfleet/common';
import type { z } from 'zod';

/** What a refused route claimed: the gateway answers 503 there rather than route it elsewhere. */
export type RouteShadow = Pick<GatewayRoute, 'hostname' | 'path' | 'match'>;

/** A route left out of the table, why, and what of it could be read (no hostname: no shadow). */
export interface RefusedRoute extends RouteRefusal {
  shadow?: RouteShadow;
}

/** A pushed table split into the routes the gateway serves and those it refuses. */
export interface JudgedTable {
  table: RoutingTable;
  refused: RefusedRoute[];
}

const ID_LENGTH = 200;

export const clipReason = (text: string) =>
  text.length <= REFUSAL_MESSAGE_LENGTH ? text : `${text.slice(0, REFUSAL_MESSAGE_LENGTH - 1)}…`;

/** A route's own id when it has a readable one, else its place in the table. */
function idOf(raw: unknown, index: number): string {
  const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= ID_LENGTH ? id : `routes[${index}]`;
}

/**
 * A field this gateway does not know is version skew (an older gateway image than the agent that
 * pushed), not a broken route: its own code, so that the operator knows to upgrade the gateway.
 */
function describe(error: z.ZodError): Pick<RouteRefusal, 'code' | 'message'> {
  const code = error.issues.some((issue) => issue.code === 'unrecognized_keys')
    ? 'unsupported_field'
    : 'invalid_route';
  const message = error.issues
    .map((issue) => {
      const path = formatIssuePath(issue.path);
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
  return { code, message: clipReason(message) };
}

/**
 * The parts of a refused route that parse. Whatever does not is left out, which widens the shadow
 * (no path: the whole hostname; no match: every method, header and query): fail closed.
 */
function shadowOf(raw: unknown): RouteShadow | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const fields = raw as Record<string, unknown>;
  const { shape } = gatewayRouteSchema;
  const hostname = shape.hostname.safeParse(fields.hostname);
  if (!hostname.success) return undefined;
  const path = shape.path.safeParse(fields.path);
  const match = shape.match.safeParse(fields.match);
  return {
    hostname: hostname.data,
    path: path.success ? path.data : { type: 'prefix', value: '/' },
    ...(match.success && match.data ? { match: match.data } : {}),
  };
}

/**
 * Judges a pushed table route by route: the envelope (version, a list of at most `MAX_ROUTES`)
 * must be valid or the whole push is refused; then each route is parsed on its own, and one this
 * gateway cannot read is refused alone, with a code and the reason, while the rest are served.
 * Routes sharing an id are all refused. Regexes are judged when the table is compiled.
 */
export function judgeTable(input: unknown): JudgedTable {
  const envelope = parseOrThrow(routingTableEnvelopeSchema, input, 'routing table');
  const ids = envelope.routes.map(idOf);
  const uses = new Map<string, number>();
  for (const id of ids) uses.set(id, (uses.get(id) ?? 0) + 1);
  const routes: GatewayRoute[] = [];
  const refused: RefusedRoute[] = [];
  envelope.routes.forEach((raw, index) => {
    const id = ids[index]!;
    const count = uses.get(id) ?? 0;
    const parsed = count > 1 ? undefined : gatewayRouteSchema.safeParse(raw);
    if (parsed?.success) {
      routes.push(parsed.data);
      return;
    }
    const refusal: Pick<RouteRefusal, 'code' | 'message'> = parsed
      ? describe(parsed.error)
      : { code: 'duplicate_id', message: `${count} routes of the table have this id` };
    const shadow = shadowOf(raw);
    refused.push({ id, ...refusal, ...(shadow ? { shadow } : {}) });
  });
  return { table: { version: envelope.version, routes }, refused };
}
