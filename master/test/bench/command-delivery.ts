/**
 * Benchmark: a command queued at the master → received by the agent's long-poll, p50/p99, against a
 * naive agent that polls every 250 ms, measured in the same run on a private redis-server.
 *
 *   pnpm build && node master/test/dist/test/bench/command-delivery.js [commands=300] [baselineCommands=100]
 *
 * Latencies are taken at the gateway (enqueue called → `next` resolved), without HTTP in between.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { startRedisServer } from '@tunnelfleet/test';
import { pino } from 'pino';
import { type CommandGateway, createCommandGateway } from '#master/commands/command-gateway.js';
import { startTunnel } from '../test-commands.js';

const NAIVE_POLL_INTERVAL_MS = 250;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The agent keeps a long-poll open; the master queues a command at a random moment. */
async function longPoll(gateway: CommandGateway, agentId: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const poll = gateway.next(agentId, { timeoutMs: 30_000 });
    await delay(Math.random() * 20);
    const queuedAt = performance.now();
    await gateway.enqueue(agentId, startTunnel());
    const command = await poll;
    latencies.push(performance.now() - queuedAt);
    if (command === null) throw new Error('long-poll timed out');
    await gateway.acknowledge(agentId, command.id, {
      commandId: command.id,
      version: command.version,
      status: 'ok',
    });
  }
  return latencies;
}

/** Baseline: an agent that asks every 250 ms and returns at once when there is nothing. */
async function naivePolling(gateway: CommandGateway, agentId: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  let queuedAt = 0;
  let done = false;
  const agent = (async () => {
    while (!done) {
      const command = await gateway.next(agentId, { timeoutMs: 0 });
      if (command !== null) {
        latencies.push(performance.now() - queuedAt);
        await gateway.acknowledge(agentId, command.id, {
          commandId: command.id,
          version: command.version,
          status: 'ok',
        });
      }
      await delay(NAIVE_POLL_INTERVAL_MS);
    }
  })();
  for (let i = 0; i < count; i++) {
    await delay(Math.random() * NAIVE_POLL_INTERVAL_MS * 2);
    queuedAt = performance.now();
    await gateway.enqueue(agentId, startTunnel());
    while (latencies.length <= i) await delay(5);
  }
  done = true;
  await agent;
  return latencies;
}

function summary(latencies: number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
  };
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 300);
  const baselineCount = Number(process.argv[3] ?? 100);
  const redis = await startRedisServer();
  const gateway = await createCommandGateway({
    connection: redis.url,
    logger: pino({ level: 'warn' }),
    leaseMs: 60_000,
  });
  try {
    // Warm-up: scripts loaded, queue objects created, JIT.
    await longPoll(gateway, 'warmup', 20);
    const tunnelfleet = summary(await longPoll(gateway, 'long-poll-agent', count));
    const baseline = summary(await naivePolling(gateway, 'naive-agent', baselineCount));
    const ms = (value: number) => `${value.toFixed(2)} ms`;
    console.log(`command delivery, queued → received (${new Date().toISOString()}, node ${process.version})`);
    console.log(
      `  long-poll (tunnelfleet)   n=${tunnelfleet.n}  p50 ${ms(tunnelfleet.p50)}  p90 ${ms(tunnelfleet.p90)}  p99 ${ms(tunnelfleet.p99)}`,
    );
    console.log(
      `  baseline: poll every ${NAIVE_POLL_INTERVAL_MS} ms n=${baseline.n}  p50 ${ms(baseline.p50)}  p90 ${ms(baseline.p90)}  p99 ${ms(baseline.p99)}`,
    );
    console.log(
      `  ratio baseline/long-poll: p50 ${(baseline.p50 / tunnelfleet.p50).toFixed(1)}×  p99 ${(baseline.p99 / tunnelfleet.p99).toFixed(1)}×`,
    );
    console.log(`  target p50 ≤ 50 ms: ${tunnelfleet.p50 <= 50 ? 'met' : 'MISSED'}`);
    console.log(`  Redis connections held by the gateway: ${await redis.connectionCount()}`);
  } finally {
    await gateway.close();
    await redis.stop();
  }
}

await main();
