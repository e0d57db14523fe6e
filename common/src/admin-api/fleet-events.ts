/**
 * `GET /api/v1/admin/events`: a server-sent event stream of what changed in the fleet, so the
 * dashboard reads again only what it shows. Each event names a topic and carries no data: the page
 * refetches. After a dropped stream the browser reconnects (EventSource does, after `retry` ms)
 * and the page refetches everything it shows, since notices sent meanwhile are lost.
 */
export const FLEET_EVENTS_PATH = '/api/v1/admin/events';

export const FLEET_EVENT_TOPICS = [
  /** An agent registered, sent a heartbeat, or was approved, paused, revoked… */
  'agents',
  /** Routes or conflicts changed: a report came in, or a sync with Cloudflare finished. */
  'routes',
  /** Any other change made through the admin API (keys, policies, settings). */
  'admin',
] as const;
export type FleetEventTopic = (typeof FLEET_EVENT_TOPICS)[number];
