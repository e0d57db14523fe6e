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
  for (const route of listRoutes(db)) {
    const spec = readRouteSpec(route.spec);
    if (spec.access || route.hostname === null || !isCloudDesired(db, route, now)) continue;
    routes.push({
      hostname: route.hostname,
      path: route.path,
      service: route.service,
      agentId: route.agentId,
      containerName: route.containerName,
      status: route.status,
      markedPublic: spec.public === true,
    });
  }
  for (const route of listRetainedRoutes(db)) {
    const spec = readRouteSpec(route.spec);
    if (spec.access) continue;
    routes.push({
      hostname: route.hostname,
      path: route.path,
      service: route.service,
      agentId: route.agentId,
      containerName: route.containerName,
      status: 'retained',
      markedPublic: spec.public === true,
    });
  }
  return routes.sort((a, b) => a.hostname.localeCompare(b.hostname) || a.path.localeCompare(b.path));
}
