import type { WakeState } from '@tunnelfleet/common';
import { readRouteSpec } from '../routes/route-spec.js';
import type { ContainerRecord } from '../store/containers.js';
import { listContainers } from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import type { RouteRecord } from '../store/routes.js';

/** What the container's reported state says of a waking route; null for a route that does not wake. */
export function wakeStateOf(
  route: Pick<RouteRecord, 'spec'>,
  containerState: ContainerRecord['state'] | undefined,
): WakeState | null {
  if (!readRouteSpec(route.spec).wake) return null;
  switch (containerState) {
    case 'sleeping':
      return 'sleeping';
    case 'running':
      return 'running';
    // Created and not yet running, or restarted by Docker after a crash.
    case 'created':
    case 'restarting':
      return 'starting';
    default:
      return 'failed';
  }
}

/** The routes with their wake state, reading each of their agents' containers once. */
export function withWakeStates<R extends RouteRecord>(
  db: SqliteDatabase,
  routes: readonly R[],
): (R & { wakeState: WakeState | null })[] {
  const states = new Map<string, Map<string, ContainerRecord['state']>>();
  const stateOf = (agentId: string, containerId: string) => {
    let agent = states.get(agentId);
    if (!agent) {
      agent = new Map(listContainers(db, agentId).map((c) => [c.containerId, c.state]));
      states.set(agentId, agent);
    }
    return agent.get(containerId);
  };
  return routes.map((route) => ({
    ...route,
    wakeState: wakeStateOf(route, stateOf(route.agentId, route.containerId)),
  }));
}
