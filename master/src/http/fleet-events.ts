import { ADMIN_API_PREFIX, AGENT_ROUTES, FLEET_EVENTS_PATH, type FleetEventTopic } from '@tunnelfleet/common';
import { type RequestHandler, Router } from 'express';
import type { FleetEventsChannel } from '../redis/fleet-events-channel.js';

/** How long a browser waits before reconnecting a dropped stream (EventSource's `retry`). */
const RETRY_MS = 2_000;
/** A comment line this often keeps proxies from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/** Which topic a successful request changed, if any. */
function topicOf(method: string, path: string): FleetEventTopic | undefined {
  if (path === AGENT_ROUTES.reports) return 'routes';
  if (path === AGENT_ROUTES.register || path === AGENT_ROUTES.heartbeat) return 'agents';
  if (method === 'GET' || !path.startsWith(`${ADMIN_API_PREFIX}/`)) return undefined;
  if (path.startsWith(`${ADMIN_API_PREFIX}/agents`)) return 'agents';
  if (path.startsWith(`${ADMIN_API_PREFIX}/routes`) || path.startsWith(`${ADMIN_API_PREFIX}/reconcile`)) {
    return 'routes';
  }
  return 'admin';
}

/**
 * Announces, once a request succeeded, what it changed: agents' registrations, heartbeats and
 * reports, and every change made through the admin API. One place, so no handler can forget.
 */
export function announceChanges(channel: FleetEventsChannel): RequestHandler {
  return (req, res, next) => {
    res.on('finish', () => {
      if (res.statusCode >= 400) return;
      const topic = topicOf(req.method, req.path);
      if (topic) channel.publish(topic);
    });
    next();
  };
}

/**
 * `GET /api/v1/admin/events` (behind the admin authentication): the server-sent event stream. Each
 * event is `event: <topic>` with an increasing `id`; the page refetches what shows that topic.
 */
export function fleetEventsRouter(channel: FleetEventsChannel): Router {
  const router = Router();
  router.get(FLEET_EVENTS_PATH, (req, res) => {
    res.status(200).set({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
    res.write(`retry: ${RETRY_MS}\n\n`);
    let id = 0;
    const unsubscribe = channel.subscribe((topic) => {
      res.write(`id: ${++id}\nevent: ${topic}\ndata: {}\n\n`);
    });
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    req.on('close', () => {
      clearInterval(keepalive);
      unsubscribe();
    });
  });
  return router;
}
