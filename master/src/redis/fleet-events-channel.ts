import { FLEET_EVENT_TOPICS, type FleetEventTopic } from '@tunnelfleet/common';
import type { Logger } from 'pino';
import { createRedisClient, type RedisConnectionOptions } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';

export interface FleetEventsChannel {
  /** Tells every master process sharing the prefix that `topic` changed; never throws. */
  publish(topic: FleetEventTopic): void;
  /** Calls `listener` for every notice, from this process or another; returns the unsubscribe. */
  subscribe(listener: (topic: FleetEventTopic) => void): () => void;
  close(): Promise<void>;
}

/** At most one notice per topic in this time: a fleet's heartbeats become one notice, not hundreds. */
const COALESCE_MS = 500;

/**
 * "The fleet changed" on Redis pub/sub: one subscriber connection per master, fanned out to the
 * open dashboard streams in memory. Notices are coalesced per topic (the first goes out at once,
 * the rest of the window becomes one more at its end), so a thousand heartbeats a minute cost a
 * few messages. A notice lost to a Redis outage is healed by the page's own refetch on reconnect.
 */
export async function openFleetEventsChannel(options: {
  connection: RedisConnectionOptions;
  keys: RedisKeys;
  logger: Logger;
  /** Publishing goes through the caller's command connection; a subscriber connection cannot. */
  publisher: { publish(channel: string, message: string): Promise<number> };
}): Promise<FleetEventsChannel> {
  const { keys, publisher, logger } = options;
  const listeners = new Set<(topic: FleetEventTopic) => void>();
  const subscriber = createRedisClient({
    connection: options.connection,
    name: `${keys.prefix}-fleet-events`,
    logger,
    failFast: false,
  });
  subscriber.client.on('message', (_channel: string, message: string) => {
    if (!(FLEET_EVENT_TOPICS as readonly string[]).includes(message)) return;
    for (const listener of listeners) listener(message as FleetEventTopic);
  });
  await subscriber.client.subscribe(keys.fleetEvents);

  const windows = new Map<FleetEventTopic, { pending: boolean; timer: NodeJS.Timeout }>();
  const send = (topic: FleetEventTopic) => {
    publisher.publish(keys.fleetEvents, topic).catch((error: Error) => {
      logger.debug({ err: error, topic }, 'fleet event not published (Redis unavailable)');
    });
  };
  const endWindow = (topic: FleetEventTopic) => {
    const window = windows.get(topic);
    windows.delete(topic);
    if (window?.pending) send(topic);
  };

  return {
    publish(topic) {
      const window = windows.get(topic);
      if (window) {
        window.pending = true;
        return;
      }
      send(topic);
      const timer = setTimeout(() => endWindow(topic), COALESCE_MS);
      timer.unref();
      windows.set(topic, { pending: false, timer });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    async close() {
      for (const { timer } of windows.values()) clearTimeout(timer);
      windows.clear();
      listeners.clear();
      await subscriber.close();
    },
  };
}
