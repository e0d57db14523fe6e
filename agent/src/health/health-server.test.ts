import { networkInterfaces } from 'node:os';
import pino from 'pino';
import { expect, it } from 'vitest';
import { evaluateHealth } from './health-report.js';
import { startHealthServer } from './health-server.js';

const report = () =>
  evaluateHealth({
    dockerReachable: true,
    link: { reachable: true, lastContactAt: 1_000, revoked: false },
    cloudflared: { state: 'running', ready: true, restarts: 0 },
    startedAt: 0,
    now: 2_000,
    outageBudgetMs: 3_600_000,
  });

it('listens on loopback by default, not on the addresses the published containers reach', async () => {
  const server = await startHealthServer({ port: 0, logger: pino({ level: 'silent' }), report });
  try {
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
    // The address of this machine on a network: what a container sharing the agent's network dials.
    const external = Object.values(networkInterfaces())
      .flat()
      .find((address) => address?.family === 'IPv4' && !address.internal);
    expect(external, 'a non-loopback IPv4 address on this machine').toBeDefined();
    const error = await fetch(`http://${external!.address}:${server.port}/healthz`).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error & { cause?: { code?: string } }).cause?.code)).toBe('ECONNREFUSED');
  } finally {
    await server.close();
  }
});
