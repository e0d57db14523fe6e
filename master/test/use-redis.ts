import { type RedisServerHandle, startRedisServer } from '@tunnelfleet/test';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export interface RedisUnderTest {
  server: RedisServerHandle;
  /** A plain client of that server, for the test's own reads and writes. */
  redis: Redis;
}

/** A private redis-server for the file's tests, started before them and stopped after. */
export function useRedis(): () => RedisUnderTest {
  let current: RedisUnderTest | undefined;
  beforeAll(async () => {
    const server = await startRedisServer();
    current = { server, redis: new Redis(server.url) };
  });
  afterAll(async () => {
    current?.redis.disconnect();
    await current?.server.stop();
  });
  return () => {
    if (!current) throw new Error('the redis-server did not start (see beforeAll)');
    return current;
  };
}
