import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { startTunnel, stopTunnel, uniqueAgentId } from '../../test/test-commands.js';
import { useRedis } from '../../test/use-redis.js';
import type { CommandJobData } from '../commands/command-job.js';
import { type AgentCommandQueues, createAgentCommandQueues } from './agent-command-queues.js';
import { createRedisKeys } from './redis-keys.js';

const redisUnderTest = useRedis();

function data(version: number, request = startTunnel()): CommandJobData {
  return { ...request, version, issuedAt: new Date().toISOString() } as CommandJobData;
}

async function withQueues(lockMs: number, run: (queues: AgentCommandQueues) => Promise<void>) {
  const queues = createAgentCommandQueues({
    client: redisUnderTest().redis,
    keys: createRedisKeys('queues-test'),
    lockMs,
  });
  try {
    await run(queues);
  } finally {
    await queues.close();
  }
}

describe('agent command queues', () => {
  it('takes jobs in order, one at a time, and finishes them with its lock', async () => {
    await withQueues(60_000, async (queues) => {
      const agent = uniqueAgentId();
      await queues.add(agent, 'one', data(1));
      await queues.add(agent, 'two', data(2));

      const first = await queues.takeNext(agent);
      expect(first?.id).toBe('one');
      expect((await queues.activeJob(agent))?.id).toBe('one');
      await queues.complete(agent, first!, { status: 'ok' });
      expect(await queues.getState(first!)).toBe('completed');
      expect(await queues.activeJob(agent)).toBeUndefined();

      const second = await queues.takeNext(agent);
      expect(second?.id).toBe('two');
      await queues.fail(agent, second!, 'tunnel_failed: no such image');
      expect(await queues.getState(second!)).toBe('failed');
      expect(await queues.takeNext(agent)).toBeUndefined();
    });
  });

  it('takes a job whose lock ran out again before any later job, and can still finish it', async () => {
    await withQueues(100, async (queues) => {
      const agent = uniqueAgentId();
      await queues.add(agent, 'first', data(1));
      const taken = await queues.takeNext(agent);
      await queues.add(agent, 'later', data(2, stopTunnel()));
      // BullMQ's lock of the job (`<prefix>:<queue>:<id>:lock`) expires without renewal.
      await waitFor(
        async () => (await redisUnderTest().redis.exists(`queues-test:agent-cmd-${agent}:first:lock`)) === 0,
        {
          description: 'the lock of the taken job ran out',
        },
      );

      const held = await queues.hold(agent, taken!);
      expect(held?.id).toBe('first');
      expect((await queues.activeJob(agent))?.id).toBe('first');

      await waitFor(
        async () => (await redisUnderTest().redis.exists(`queues-test:agent-cmd-${agent}:first:lock`)) === 0,
        {
          description: 'the lock ran out again',
        },
      );
      await queues.complete(agent, held!, { status: 'ok' });
      expect(await queues.getState(held!)).toBe('completed');
      expect((await queues.takeNext(agent))?.id).toBe('later');
    });
  });
});
