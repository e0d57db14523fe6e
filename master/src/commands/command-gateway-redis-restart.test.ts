import type { Command } from '@tunnelfleet/common';
import { startRedisServer, waitFor } from '@tunnelfleet/test';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startTunnel, stopTunnel, uniqueAgentId } from '../../test/test-commands.js';
import { createCommandGateway } from './command-gateway.js';
import { CommandQueueUnavailableError } from './command-queue-unavailable-error.js';

describe('command gateway across a Redis crash', () => {
  it('refuses work clearly while Redis is down, then delivers every queued command once it is back', async () => {
    // Every write reaches the append-only file before it is acknowledged, so kill -9 loses nothing.
    const redis = await startRedisServer({ appendonly: true, extraArgs: ['--appendfsync', 'always'] });
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const commands = await createCommandGateway({ connection: redis.url, logger, leaseMs: 60_000 });
    const agent = uniqueAgentId();
    const sleeper = uniqueAgentId();
    try {
      const queued = [
        await commands.enqueue(agent, startTunnel()),
        await commands.enqueue(agent, stopTunnel()),
        await commands.enqueue(agent, startTunnel('host-b')),
      ];
      const first = (await commands.next(agent, { timeoutMs: 0 })) as Command;
      expect(first.id).toBe(queued[0]?.id);
      // A poll that is open across the whole outage. The second call queues behind its first look at
      // Redis, so once that returns the poll is waiting.
      const sleeperPoll = commands.next(sleeper, { timeoutMs: 25_000 });
      expect(await commands.next(sleeper, { timeoutMs: 0 })).toBeNull();

      await redis.kill9();
      await waitFor(() => lines.some((line) => line.includes('Redis connection lost')), {
        description: 'the gateway to log the lost connection',
      });
      await expect(commands.enqueue(agent, stopTunnel())).rejects.toBeInstanceOf(
        CommandQueueUnavailableError,
      );
      await expect(
        commands.acknowledge(agent, first.id, { commandId: first.id, version: first.version, status: 'ok' }),
      ).rejects.toBeInstanceOf(CommandQueueUnavailableError);

      await redis.restart();
      // The acknowledgement failed during the outage, so the first command is still in flight.
      await waitFor(
        () =>
          commands.acknowledge(agent, first.id, {
            commandId: first.id,
            version: first.version,
            status: 'ok',
          }),
        { description: 'the acknowledgement to go through once Redis is back' },
      );
      expect(lines.some((line) => line.includes('Redis connection restored'))).toBe(true);
      const rest: string[] = [];
      for (let command = await commands.next(agent, { timeoutMs: 0 }); command; ) {
        rest.push(command.id);
        await commands.acknowledge(agent, command.id, {
          commandId: command.id,
          version: command.version,
          status: 'ok',
        });
        command = await commands.next(agent, { timeoutMs: 0 });
      }
      expect(rest).toEqual([queued[1]?.id, queued[2]?.id]);

      const forSleeper = await commands.enqueue(sleeper, startTunnel('host-c'));
      expect((await sleeperPoll)?.id).toBe(forSleeper.id);
      expect(forSleeper.version).toBe(1);
      expect((await commands.enqueue(agent, stopTunnel())).version).toBe(4);
    } finally {
      await commands.close();
      await redis.stop();
    }
  });
});
