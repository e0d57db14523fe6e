/**
 * Everything the agent asks of the Docker API, as permission flags of a socket proxy in the style
 * of tecnativa/docker-socket-proxy (each flag opens one path section; POST opens every method
 * other than GET/HEAD on the open sections). The deployment's proxy settings, the operator docs
 * and the test run through a proxy (vitest project `agent-via-socket-proxy`) all follow this list:
 * a call outside it fails there first.
 *
 * - CONTAINERS: list (`/containers/json`), inspect, logs of a dead cloudflared, create, start,
 *   stop and remove the managed cloudflared, rename the one being replaced (it serves on beside
 *   its successor).
 * - EVENTS: the container event stream (`/events`).
 * - IMAGES: inspect the cloudflared image, pull it when missing (`POST /images/create`).
 * - NETWORKS: inspect and create cloudflared's two networks, connect cloudflared to the metrics one
 *   (and disconnect the one being replaced from it).
 * - VERSION: the engine version reported at registration (`/version`; not `/info`, which
 *   tells far more about the host).
 * - PING: `/_ping`. The agent does not call it; the proxy grants it by default and a health
 *   check of the proxy itself or a Docker client probing the endpoint (the test harness) does.
 * - POST: the writes above (create, start, stop, remove, pull).
 */
export const AGENT_DOCKER_PERMISSIONS = [
  'CONTAINERS',
  'EVENTS',
  'IMAGES',
  'NETWORKS',
  'VERSION',
  'PING',
  'POST',
] as const;
