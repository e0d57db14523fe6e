import type { ContainerRecord } from '../store/containers.js';

const COMPOSE_PROJECT = 'com.docker.compose.project';
const COMPOSE_SERVICE = 'com.docker.compose.service';

/**
 * Who a container's routes belong to on its agent: its compose service when compose made it,
 * else its name. Not the container id: `docker compose up -d` after a label edit, or `docker rm`
 * and `docker run --name` again, makes a new container that is the same service, so it takes
 * the routes over at once instead of claiming their hostnames against its own predecessor. The
 * replicas of a scaled compose service share one identity, so they never conflict either.
 */
export function routeIdentity(container: Pick<ContainerRecord, 'name' | 'labels'>): string {
  const project = container.labels[COMPOSE_PROJECT];
  const service = container.labels[COMPOSE_SERVICE];
  return project && service ? `compose:${project}/${service}` : `container:${container.name}`;
}
