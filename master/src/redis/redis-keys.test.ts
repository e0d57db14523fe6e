import type { Command } from '@tunnelfleet/common';
import { type RedisServerHandle, startRedisServer } from '@tunnelfleet/test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTunnel, stopTunnel, uniqueAgentId } from '../../test/test-commands.js';
import { createCommandGateway } from '../commands/command-gateway.js';
import { createHeartbeatStore } from './heartbeat-store.js';
import { createRedisKeys } from './redis-keys.js';

let server: RedisServerHandle;
let redis: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('the master in Redis', () => {
  it('keeps every key of commands and heartbeats under the configured prefix', async () => {
    const prefix = 'fleet-prefixed';
    const gateway = await createCommandGateway({
      connection: server.url,
      prefix,
      logger: pino({ level: 'silent' }),
      leaseMs: 60_000,
    });
    const heartbeats = createHeartbeatStore({ redis, keys: createRedisKeys(prefix), intervalSeconds: 5 });
    const agent = uniqueAgentId();
    try {
      const queued: Command = await gateway.enqueue(agent, startTunnel());
      await gateway.next(agent, { timeoutMs: 0 });
      await gateway.acknowledge(agent, queued.id, {
        commandId: queued.id,
        version: queued.version,
        status: 'ok',
      });
      await gateway.enqueue(agent, stopTunnel());
      await heartbeats.touch(agent);

      const keys = await redis.keys(`*${agent}*`);
      expect(keys.length).toBeGreaterThan(3);
      expect(keys.filter((key) => !key.startsWith(`${prefix}:`))).toEqual([]);
      expect(await redis.zscore(`${prefix}:heartbeats`, agent)).not.toBeNull();
      expect(await redis.keys('tunnelfleet:*')).toEqual([]);
      expect(await redis.keys('bull:*')).toEqual([]);
    } finally {
      await gateway.close();
    }
  });
});
