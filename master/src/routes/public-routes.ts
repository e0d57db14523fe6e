import type { PublicRouteView } from '@tunnelfleet/common';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { listRetainedRoutes } from './retained-routes.js';
import { readRouteSpec } from './route-spec.js';
import { isCloudDesired } from './route-targets.js';

/**
 * The hostnames Cloudflare serves without Access: container routes it carries (`isCloudDesired`)
 * and retained routes, each with no Access in its spec. `markedPublic` tells a route public on
 * purpose (`access.public=true`) from one that merely lacks Access labels.
 */
export function listPublicRoutes(db: SqliteDatabase, now: Date): PublicRouteView[] {
  const routes: PublicRouteView[] = [];
  /** The route's view, unless its spec gives it Access. */
  const add = (
    route: Pick<PublicRouteView, 'hostname' | 'path' | 'service' | 'agentId' | 'containerName'> & {
      spec: unknown;
    },
    status: PublicRouteView['status'],
  ) => {
    const spec = readRouteSpec(route.spec);
    if (spec.access) return;
    const { hostname, path, service, agentId, containerName } = route;
    routes.push({
      hostname,
      path,
      service,
      agentId,
      containerName,
      status,
      markedPublic: spec.public === true,
    });
  };
  for (const route of listRoutes(db)) {
    if (route.hostname === null || !isCloudDesired(db, route, now)) continue;
    add({ ...route, hostname: route.hostname }, route.status);
  }
  for (const route of listRetainedRoutes(db)) add(route, 'retained');
  return routes.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.path.localeCompare(b.path));
}
