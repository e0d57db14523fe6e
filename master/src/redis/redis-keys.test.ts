import type { Command } from '@tunnelfleet/common';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startTunnel, stopTunnel, uniqueAgentId } from '../../test/test-commands.js';
import { useRedis } from '../../test/use-redis.js';
import { createCommandGateway } from '../commands/command-gateway.js';
import { createHeartbeatStore } from './heartbeat-store.js';
import { createRedisKeys } from './redis-keys.js';

const redisUnderTest = useRedis();

describe('the master in Redis', () => {
  it('keeps every key of commands and heartbeats under the configured prefix', async () => {
    const prefix = 'fleet-prefixed';
    const gateway = await createCommandGateway({
      connection: redisUnderTest().server.url,
      prefix,
      logger: pino({ level: 'silent' }),
      leaseMs: 60_000,
    });
    const heartbeats = createHeartbeatStore({
      redis: redisUnderTest().redis,
      keys: createRedisKeys(prefix),
      intervalSeconds: 5,
    });
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

      const keys = await redisUnderTest().redis.keys(`*${agent}*`);
      expect(keys.length).toBeGreaterThan(3);
      expect(keys.filter((key) => !key.startsWith(`${prefix}:`))).toEqual([]);
      expect(await redisUnderTest().redis.zscore(`${prefix}:heartbeats`, agent)).not.toBeNull();
      expect(await redisUnderTest().redis.keys('tunnelfleet:*')).toEqual([]);
      expect(await redisUnderTest().redis.keys('bull:*')).toEqual([]);
    } finally {
      await gateway.close();
    }
  });
});
