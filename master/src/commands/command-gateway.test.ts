import { type Command, NotFoundError, ValidationError } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startTunnel, stopTunnel, uniqueAgentId } from '../../test/test-commands.js';
import { useRedis } from '../../test/use-redis.js';
import { type CommandGateway, type CommandGatewayOptions, createCommandGateway } from './command-gateway.js';

const LONG_WAIT_MS = 20_000;

const redisUnderTest = useRedis();
const gateways: CommandGateway[] = [];

afterEach(async () => {
  await Promise.all(gateways.splice(0).map((gateway) => gateway.close()));
});

async function gateway(options: Partial<CommandGatewayOptions> = {}): Promise<CommandGateway> {
  const created = await createCommandGateway({
    connection: redisUnderTest().server.url,
    logger: pino({ level: 'silent' }),
    leaseMs: 60_000,
    ...options,
  });
  gateways.push(created);
  return created;
}

function ack(command: Command, status: 'ok' | 'ignored_stale' = 'ok') {
  return { commandId: command.id, version: command.version, status };
}

/** Waits until `count` long-polls are open, so what follows happens while they wait. */
async function pollsOpen(target: CommandGateway, count: number): Promise<void> {
  await waitFor(() => target.stats().openPolls === count, { description: `${count} open long-polls` });
}

/** Commands the Redis server has processed so far, every client's (read with `client`). */
async function commandsProcessed(client: Redis): Promise<number> {
  return Number(/total_commands_processed:(\d+)/.exec(await client.info('stats'))?.[1]);
}

describe('command gateway', () => {
  it("asks Redis nothing for an idle agent's next polls, and still delivers what is queued later", async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();

    const counter = new Redis(redisUnderTest().server.url);
    try {
      // What reading the count costs, with nothing in between…
      const idle = -(await commandsProcessed(counter)) + (await commandsProcessed(counter));
      // …is all five polls of an idle agent add to it.
      const before = await commandsProcessed(counter);
      for (let i = 0; i < 5; i++) expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();
      expect((await commandsProcessed(counter)) - before).toBe(idle);
    } finally {
      counter.disconnect();
    }

    const poll = commands.next(agent, { timeoutMs: LONG_WAIT_MS });
    await pollsOpen(commands, 1);
    const queued = await commands.enqueue(agent, startTunnel());
    const received = await poll;
    expect(received?.id).toBe(queued.id);
    await commands.acknowledge(agent, queued.id, ack(received!));
    // Acknowledged: the next look goes to Redis again, and finds the queue empty.
    expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();
    const second = await commands.enqueue(agent, stopTunnel());
    expect((await commands.next(agent, { timeoutMs: 0 }))?.id).toBe(second.id);
  });

  it('hands a command to a long-poll that was already waiting', async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    const poll = commands.next(agent, { timeoutMs: LONG_WAIT_MS });
    await pollsOpen(commands, 1);

    const queued = await commands.enqueue(agent, startTunnel());
    const received = await poll;

    expect(received).toEqual({ ...queued, lease: { expiresAt: expect.any(String), attempt: 1 } });
    expect(commands.stats()).toMatchObject({ queued: 1, delivered: 1, openPolls: 0 });
  });

  it('delivers in order with one command in flight: a second poll waits for the acknowledgement', async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    const first = await commands.enqueue(agent, startTunnel());
    const second = await commands.enqueue(agent, stopTunnel());
    const third = await commands.enqueue(agent, startTunnel('host-a-again'));
    expect([first.version, second.version, third.version]).toEqual([1, 2, 3]);

    expect((await commands.next(agent, { timeoutMs: 0 }))?.id).toBe(first.id);
    // The first is unacknowledged: another poll gets nothing rather than the second command.
    expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();

    const waiting = commands.next(agent, { timeoutMs: LONG_WAIT_MS });
    await pollsOpen(commands, 1);
    expect(await commands.acknowledge(agent, first.id, ack(first))).toBe('acknowledged');
    const delivered = await waiting;
    expect(delivered?.id).toBe(second.id);

    await commands.acknowledge(agent, second.id, ack(delivered as Command, 'ignored_stale'));
    expect((await commands.next(agent, { timeoutMs: 0 }))?.id).toBe(third.id);
    expect(commands.stats()).toMatchObject({ queued: 3, delivered: 3, acknowledged: 2 });
  });

  it('delivers a command again when its acknowledgement never arrives within the lease', async () => {
    const commands = await gateway({ leaseMs: 300 });
    const agent = uniqueAgentId();
    const queued = await commands.enqueue(agent, startTunnel());
    const first = await commands.next(agent, { timeoutMs: 0 });
    expect(first?.lease?.attempt).toBe(1);

    // The acknowledgement is dropped: the next poll waits out the lease and gets the command again.
    const again = await commands.next(agent, { timeoutMs: LONG_WAIT_MS });
    expect(again).toMatchObject({ id: queued.id, version: queued.version, lease: { attempt: 2 } });
    expect(commands.stats()).toMatchObject({ delivered: 1, redelivered: 1 });

    await commands.acknowledge(agent, queued.id, ack(queued));
    expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();
  });

  it('delivers again a command a crashed master left active without a lease', async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    const queued = await commands.enqueue(agent, startTunnel());
    await commands.next(agent, { timeoutMs: 0 });
    // What a master killed between taking the job and writing its lease leaves behind.
    const raw = new Redis(redisUnderTest().server.url);
    try {
      expect(await raw.del(`tunnelfleet:cmd-lease:${agent}`)).toBe(1);
    } finally {
      raw.disconnect();
    }

    const restarted = await gateway();
    expect(await restarted.next(agent, { timeoutMs: 0 })).toMatchObject({
      id: queued.id,
      lease: { attempt: 2 },
    });
  });

  it('keeps a command queued while the agent is away and delivers it when the agent returns', async () => {
    const master = await gateway();
    const agent = uniqueAgentId();
    const queued = await master.enqueue(agent, startTunnel());
    // Nobody polls now; later, after a master restart, the agent polls again.
    await master.close();

    const restarted = await gateway();
    expect(await restarted.next(agent, { timeoutMs: LONG_WAIT_MS })).toMatchObject({
      id: queued.id,
      version: queued.version,
      payload: queued.payload,
    });
  });

  it('never lets an agent acknowledge another agent’s command, nor an unknown or undelivered one', async () => {
    const commands = await gateway();
    const owner = uniqueAgentId();
    const intruder = uniqueAgentId();
    const delivered = await commands.enqueue(owner, startTunnel());
    const undelivered = await commands.enqueue(owner, stopTunnel());
    await commands.next(owner, { timeoutMs: 0 });

    await expect(commands.acknowledge(intruder, delivered.id, ack(delivered))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(
      commands.acknowledge(intruder, 'not-a-command', { ...ack(delivered), commandId: 'not-a-command' }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(commands.acknowledge(owner, undelivered.id, ack(undelivered))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(
      commands.acknowledge(owner, delivered.id, { ...ack(delivered), version: delivered.version + 1 }),
    ).rejects.toBeInstanceOf(ValidationError);

    // Nothing changed: the owner's command is still the one in flight and its acknowledgement works.
    expect(await commands.next(owner, { timeoutMs: 0 })).toBeNull();
    expect(await commands.acknowledge(owner, delivered.id, ack(delivered))).toBe('acknowledged');
    expect((await commands.next(owner, { timeoutMs: 0 }))?.id).toBe(undelivered.id);
  });

  it('fails a command acknowledged with an error and treats a repeated acknowledgement as done', async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    const queued = await commands.enqueue(agent, startTunnel());
    await commands.next(agent, { timeoutMs: 0 });
    const failure = {
      commandId: queued.id,
      version: queued.version,
      status: 'error' as const,
      error: { code: 'image_pull_failed', message: 'no such image' },
    };

    expect(await commands.acknowledge(agent, queued.id, failure)).toBe('acknowledged');
    expect(await commands.acknowledge(agent, queued.id, failure)).toBe('already_acknowledged');
    expect(commands.stats()).toMatchObject({ failed: 1, acknowledged: 0 });
    expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();
  });

  it('ends an open long-poll at once on closeAgent or abort, and leaves other agents polling', async () => {
    const commands = await gateway();
    const revoked = uniqueAgentId();
    const aborted = uniqueAgentId();
    const other = uniqueAgentId();
    const revokedPoll = commands.next(revoked, { timeoutMs: LONG_WAIT_MS });
    const controller = new AbortController();
    const abortedPoll = commands.next(aborted, { timeoutMs: LONG_WAIT_MS, signal: controller.signal });
    const otherPoll = commands.next(other, { timeoutMs: LONG_WAIT_MS });
    await pollsOpen(commands, 3);

    commands.closeAgent(revoked);
    controller.abort();
    expect(await revokedPoll).toBeNull();
    expect(await abortedPoll).toBeNull();
    expect(commands.stats().openPolls).toBe(1);

    const queued = await commands.enqueue(other, startTunnel());
    expect((await otherPoll)?.id).toBe(queued.id);
  });

  it('keeps versions increasing across a gateway restart', async () => {
    const agent = uniqueAgentId();
    const before = await gateway();
    const v1 = await before.enqueue(agent, startTunnel());
    const v2 = await before.enqueue(agent, stopTunnel());
    await before.close();

    const after = await gateway();
    const v3 = await after.enqueue(agent, startTunnel());
    expect(v2.version).toBeGreaterThan(v1.version);
    expect(v3.version).toBeGreaterThan(v2.version);

    const seen: number[] = [];
    for (let command = await after.next(agent, { timeoutMs: 0 }); command; ) {
      seen.push(command.version);
      await after.acknowledge(agent, command.id, ack(command));
      command = await after.next(agent, { timeoutMs: 0 });
    }
    expect(seen).toEqual([v1.version, v2.version, v3.version]);
  });

  it('keeps versions above the one the store recorded when Redis lost its counter', async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    expect((await commands.enqueue(agent, startTunnel(), { afterVersion: 41 })).version).toBe(42);
    expect((await commands.enqueue(agent, stopTunnel(), { afterVersion: 7 })).version).toBe(43);
    expect((await commands.enqueue(agent, stopTunnel())).version).toBe(44);
  });

  it('purges a deleted agent’s queue without ever reusing its versions', async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    const poll = commands.next(agent, { timeoutMs: LONG_WAIT_MS });
    await pollsOpen(commands, 1);
    await commands.purgeAgent(agent);
    expect(await poll).toBeNull();

    const old = await commands.enqueue(agent, startTunnel());
    await commands.purgeAgent(agent);
    expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();
    expect((await commands.enqueue(agent, startTunnel())).version).toBeGreaterThan(old.version);
  });

  it('refuses an invalid command naming the field, and queues nothing', async () => {
    const commands = await gateway();
    const agent = uniqueAgentId();
    const bad = { type: 'stop_tunnel', payload: { tunnelId: 'not-a-uuid', reason: 'x' } } as const;
    await expect(commands.enqueue(agent, bad)).rejects.toThrow(/payload\.tunnelId/);
    await expect(commands.enqueue('bad:agent', startTunnel())).rejects.toBeInstanceOf(ValidationError);
    expect(await commands.next(agent, { timeoutMs: 0 })).toBeNull();
  });
});
