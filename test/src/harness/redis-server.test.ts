import { connect } from 'node:net';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServerHandle, startRedisServer } from './redis-server.js';
import { uniqueName } from './unique-name.js';
import { waitFor } from './wait-for.js';

describe('startRedisServer', () => {
  let redis: RedisServerHandle;

  beforeAll(async () => {
    redis = await startRedisServer();
  });

  afterAll(async () => {
    await redis.stop();
  });

  it('listens on a loopback port and says so in its url', () => {
    expect(redis.host).toBe('127.0.0.1');
    expect(redis.port).toBeGreaterThan(0);
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
  });

  it('round-trips a BullMQ job: the worker gets the data and the queue sees its result', async () => {
    const connection = { host: redis.host, port: redis.port };
    const name = uniqueName('harness-queue');
    const queue = new Queue(name, { connection });
    const seen: unknown[] = [];
    const worker = new Worker(
      name,
      async (job: Job<{ hostname: string; n: number }>) => {
        seen.push(job.data);
        return { doubled: job.data.n * 2 };
      },
      { connection },
    );
    try {
      const completed = new Promise<unknown>((resolve, reject) => {
        worker.once('completed', (_job, result) => resolve(result));
        worker.once('failed', (_job, error) => reject(error));
      });
      const job = await queue.add('route', { hostname: 'app.example.com', n: 21 });
      expect(await completed).toEqual({ doubled: 42 });
      expect(seen).toEqual([{ hostname: 'app.example.com', n: 21 }]);
      const stored = await queue.getJob(job.id!);
      expect(await stored?.getState()).toBe('completed');
      expect(stored?.returnvalue).toEqual({ doubled: 42 });
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('counts the connected clients, not the one asking', async () => {
    const before = await redis.connectionCount();
    const clients = [new Redis(redis.url), new Redis(redis.url)];
    try {
      await Promise.all(clients.map((client) => client.ping()));
      expect(await redis.connectionCount()).toBe(before + 2);
    } finally {
      for (const client of clients) client.disconnect();
    }
  });
});

describe('redis-server faults', () => {
  it('kill9 makes it unreachable and restart brings it back on the same port', async () => {
    const redis = await startRedisServer();
    try {
      const { port } = redis;
      await redis.kill9();
      await expect(tcpConnect(port)).rejects.toThrow(/ECONNREFUSED/);

      await redis.restart();
      expect(redis.port).toBe(port);
      expect(await pingOnce(redis.url)).toBe('PONG');
    } finally {
      await redis.stop();
    }
  });

  it('never takes another server on its port for its own: it fails, and the other keeps serving', async () => {
    const holder = await startRedisServer();
    try {
      await expect(startRedisServer({ port: holder.port })).rejects.toThrow(/port \d+ taken/);
      expect(await pingOnce(holder.url)).toBe('PONG');
    } finally {
      await holder.stop();
    }
  });

  it('says why it is gone when it exits on its own', async () => {
    const redis = await startRedisServer();
    try {
      expect(redis.unexpectedExit()).toBeUndefined();
      const client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => {});
      // SHUTDOWN from a client: the server ends without the harness asking.
      await client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      client.disconnect();
      await waitFor(() => redis.unexpectedExit(), { description: 'the exit to be seen' });
      expect(redis.unexpectedExit()).toMatch(/exited on its own \(code 0\)/);
    } finally {
      await redis.stop();
    }
  });

  it('keeps data across a restart with appendonly, and loses it without', async () => {
    const persistent = await startRedisServer({ appendonly: true });
    const volatile = await startRedisServer();
    try {
      for (const server of [persistent, volatile]) {
        const client = new Redis(server.url);
        await client.set('route', 'app.example.com');
        client.disconnect();
        await server.restart();
      }
      const [kept, lost] = await Promise.all(
        [persistent, volatile].map(async (server) => {
          const client = new Redis(server.url);
          try {
            return await client.get('route');
          } finally {
            client.disconnect();
          }
        }),
      );
      expect(kept).toBe('app.example.com');
      expect(lost).toBeNull();
    } finally {
      await Promise.all([persistent.stop(), volatile.stop()]);
    }
  });
});

function tcpConnect(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** One PING from a client of its own, which is closed again. */
async function pingOnce(url: string): Promise<string> {
  const client = new Redis(url);
  try {
    return await client.ping();
  } finally {
    client.disconnect();
  }
}
