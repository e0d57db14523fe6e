import type { AccessSpec, ParsedRoute } from '@tunnelfleet/common';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { readRouteSpec } from './route-spec.js';
import { isCloudDesired } from './route-targets.js';

export interface RefusedAccessRemoval {
  message: string;
  /** The Access the route had: kept in the refused route's spec, so the refusal holds at the next report. */
  access: AccessSpec;
}

/**
 * Whether new labels drop the Access of a hostname (and path) that is published with Access, in
 * which case the change is refused unless the labels say `access.public=true`: a protected route
 * never turns public by a missing label. Labels change by recreating the container, so the route
 * that had Access is usually another row (the old container's, in its grace period), found by
 * hostname and path; the route's own row counts too, whatever its status, so that a refusal
 * stays in force once the old container's route is gone.
 */
export function refusedAccessRemoval(
  db: SqliteDatabase,
  planned: Pick<ParsedRoute, 'hostname' | 'access' | 'public'> & {
    path: string;
    agentId: string;
    containerId: string;
    routeKey: string;
  },
  now: Date,
): RefusedAccessRemoval | undefined {
  if (planned.access || planned.public) return undefined;
  for (const route of listRoutes(db, { hostname: planned.hostname })) {
    // Another agent's route on the hostname is a matter of claims, not of this agent's labels.
    if (route.path !== planned.path || route.agentId !== planned.agentId) continue;
    const access = readRouteSpec(route.spec).access;
    if (!access) continue;
    const itself = route.containerId === planned.containerId && route.routeKey === planned.routeKey;
    if (!itself && !isCloudDesired(db, route, now)) continue;
    const where = `${planned.hostname}${planned.path ? ` path ${planned.path}` : ''}`;
    return {
      access,
      message:
        `the labels drop the Access of ${where}, which is published with Access: refused, so that ` +
        'it never turns public; keep its access.* labels, or set tunnelfleet.access.public=true to ' +
        'publish it without Access',
    };
  }
  return undefined;
}
