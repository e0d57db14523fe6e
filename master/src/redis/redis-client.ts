import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/** Where the gateway's Redis lives: a `redis://` URL or ioredis options. */
export type RedisConnectionOptions = string | RedisOptions;

export interface RedisClientOptions {
  connection: RedisConnectionOptions;
  /** Names the connection in `CLIENT LIST` and in the logs. */
  name: string;
  logger: Logger;
  /**
   * Fail commands at once while disconnected instead of queueing them: a request hanging for as long
   * as Redis is down helps nobody, a clear 503 does. Off for the subscriber, whose subscription must
   * wait for the server.
   */
  failFast: boolean;
}

export interface ManagedRedisClient {
  readonly client: Redis;
  /** Resolves once the client is connected (at once if it is). */
  ready(): Promise<void>;
  /** Quits without logging the disconnection as an outage. */
  close(): Promise<void>;
}

/**
 * An ioredis client that reconnects forever and logs each outage once (lost, then restored) rather
 * than once per failed reconnect attempt.
 */
export function createRedisClient({
  connection,
  name,
  logger,
  failFast,
}: RedisClientOptions): ManagedRedisClient {
  const defaults: RedisOptions = {
    connectionName: name,
    // Fail-fast clients carry the agents' requests (heartbeats, long-polls, command queues): commands
    // issued in the same tick go out in one write, not one socket write each, which at thousands
    // of agents was a tenth of the master's time. The subscriber and the cf-sync worker's clients
    // (blocking commands) are left as they are.
    ...(failFast
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true }
      : { maxRetriesPerRequest: null }),
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  };
  const client =
    typeof connection === 'string'
      ? new Redis(connection, defaults)
      : new Redis({ ...defaults, ...connection });

  let down = false;
  let closing = false;
  const lost = (reason: string) => {
    if (down || closing) return;
    down = true;
    logger.error({ connection: name, reason }, 'Redis connection lost; reconnecting');
  };
  client.on('error', (error: Error) => lost(error.message));
  client.on('close', () => lost('connection closed'));
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info({ connection: name }, 'Redis connection restored');
  });
  return {
    client,
    ready: () =>
      client.status === 'ready' ? Promise.resolve() : new Promise((resolve) => client.once('ready', resolve)),
    async close() {
      closing = true;
      // quit() waits for the server; while it is down there is nobody to say goodbye to.
      if (client.status === 'ready') await client.quit();
      else client.disconnect();
    },
  };
}
