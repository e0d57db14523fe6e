import { dependencyOrder } from '@tunnelfleet/common';
import { readRouteSpec } from '../routes/route-spec.js';
import type { SqliteDatabase } from '../store/database.js';
import { listRoutes, type RouteRecord } from '../store/routes.js';

/** The dependency cycle a waking route's container would run into; undefined: none. */
export type WakeCycleLookup = (route: Pick<RouteRecord, 'agentId' | 'containerName'>) => string[] | undefined;

/**
 * Finds dependency cycles among one agent's waking routes (`depends_on` of each container), as the
 * agent would when a request wakes one: the route is withheld with the cycle named, rather than
 * published to fail on its first request. Each agent's graph is read once per lookup's life (one
 * reading of the desired state).
 */
export function createWakeCycleLookup(db: SqliteDatabase): WakeCycleLookup {
  const graphs = new Map<string, Map<string, readonly string[]>>();
  const graphOf = (agentId: string) => {
    let graph = graphs.get(agentId);
    if (!graph) {
      graph = new Map();
      for (const route of listRoutes(db, { agentId })) {
        const wake = readRouteSpec(route.spec).wake;
        if (wake && wake.dependsOn.length > 0) graph.set(route.containerName, wake.dependsOn);
      }
      graphs.set(agentId, graph);
    }
    return graph;
  };
  return (route) => {
    const graph = graphOf(route.agentId);
    if (graph.size === 0) return undefined;
    const found = dependencyOrder(route.containerName, graph);
    return found.ok ? undefined : found.cycle;
  };
}
