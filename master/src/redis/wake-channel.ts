import type { Logger } from 'pino';
import { createRedisClient, type RedisConnectionOptions } from './redis-client.js';
import type { RedisKeys } from './redis-keys.js';

export interface WakeChannel {
  /** Tells every process (this one included) that `agentId`'s queue changed. */
  publish(agentId: string): Promise<void>;
  close(): Promise<void>;
}

export interface WakeChannelOptions {
  connection: RedisConnectionOptions;
  keys: RedisKeys;
  logger: Logger;
  /** Publishing goes through the caller's command connection; a subscriber connection cannot. */
  publisher: { publish(channel: string, message: string): Promise<number> };
  onWake(agentId: string): void;
  /** Messages published while the subscriber was disconnected are lost: re-check everything. */
  onReconnect(): void;
}

/**
 * One pattern subscription for the whole fleet, so waking long-polls costs one Redis connection
 * however many agents there are. Resolves once the subscription is active.
 */
export async function openWakeChannel(options: WakeChannelOptions): Promise<WakeChannel> {
  const { keys, publisher, onWake, onReconnect } = options;
  const subscriber = createRedisClient({
    connection: options.connection,
    name: `${keys.prefix}-cmd-wake`,
    logger: options.logger,
    failFast: false,
  });
  subscriber.client.on('pmessage', (_pattern: string, channel: string) => {
    const agentId = keys.agentIdOfWakeChannel(channel);
    if (agentId !== undefined) onWake(agentId);
  });
  await subscriber.client.psubscribe(keys.wakePattern);
  // ioredis re-subscribes by itself on reconnect; 'ready' comes after the first one only then.
  subscriber.client.on('ready', onReconnect);

  return {
    async publish(agentId) {
      await publisher.publish(keys.wakeChannel(agentId), '');
    },
    close: () => subscriber.close(),
  };
}
