import { startRedisServer } from '@tunnelfleet/test';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startTunnel } from '../../test/test-commands.js';
import { type CommandGateway, createCommandGateway } from './command-gateway.js';

/** Queues, delivers and acknowledges one command for each agent, all agents at once. */
async function exercise(commands: CommandGateway, agentIds: string[]): Promise<void> {
  await Promise.all(
    agentIds.map(async (agentId) => {
      const poll = commands.next(agentId, { timeoutMs: 20_000 });
      const queued = await commands.enqueue(agentId, startTunnel());
      const delivered = await poll;
      expect(delivered?.id).toBe(queued.id);
      await commands.acknowledge(agentId, queued.id, { commandId: queued.id, version: 1, status: 'ok' });
    }),
  );
}

describe('command gateway Redis connections', () => {
  it('uses as many connections for 500 agents as for 5', async () => {
    const redis = await startRedisServer();
    const commands = await createCommandGateway({
      connection: redis.url,
      logger: pino({ level: 'silent' }),
      leaseMs: 60_000,
    });
    try {
      await exercise(
        commands,
        Array.from({ length: 5 }, (_, i) => `few-${i}`),
      );
      const withFive = await redis.connectionCount();

      const many = Array.from({ length: 500 }, (_, i) => `many-${i}`);
      await exercise(commands, many);
      // And with 500 long-polls open at the same time.
      const polls = many.map((agentId) => commands.next(agentId, { timeoutMs: 20_000 }));
      const withFiveHundred = await redis.connectionCount();
      for (const agentId of many) commands.closeAgent(agentId);
      expect(await Promise.all(polls)).toEqual(many.map(() => null));

      expect(withFive).toBe(2);
      expect(withFiveHundred).toBe(withFive);
    } finally {
      await commands.close();
      await redis.stop();
    }
  });
});
