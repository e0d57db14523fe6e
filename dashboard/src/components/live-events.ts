import { FLEET_EVENTS_PATH, type FleetEventTopic } from '@tunnelfleet/common/admin-api';
import { useEffect } from 'react';

type Listener = { topics: readonly FleetEventTopic[]; reload: () => void };

/**
 * One EventSource for the whole app (`GET /api/v1/admin/events`): every page that shows a topic
 * reads again when it changed. When the stream drops, the browser reconnects by itself; on each
 * reconnection every page reads again, since notices sent meanwhile were lost.
 */
const listeners = new Set<Listener>();
let source: EventSource | undefined;
let opened = false;

function connect(): void {
  if (source) return;
  source = new EventSource(FLEET_EVENTS_PATH);
  source.addEventListener('open', () => {
    if (opened) for (const listener of listeners) listener.reload();
    opened = true;
  });
  for (const topic of ['agents', 'routes', 'admin'] as const) {
    source.addEventListener(topic, () => {
      for (const listener of listeners) if (listener.topics.includes(topic)) listener.reload();
    });
  }
}

/** Ends the stream (signing out): the next page that listens opens a new one. */
export function closeLiveEvents(): void {
  source?.close();
  source = undefined;
  opened = false;
}

/** Calls `reload` whenever one of `topics` changed, and after the stream reconnected. */
export function useLiveEvents(topics: readonly FleetEventTopic[], reload: () => void): void {
  const key = topics.join(',');
  useEffect(() => {
    const listener = { topics: key.split(',') as FleetEventTopic[], reload };
    listeners.add(listener);
    connect();
    return () => {
      listeners.delete(listener);
    };
  }, [key, reload]);
}
