import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AGENT_ROUTES, type Container, createLogger, type Report } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterEach, describe, expect, it } from 'vitest';
import { createMasterClient, createMasterLink } from '../master-client/index.js';
import { createReporter } from './reporter.js';

const AGENT_ID = 'agent-1';
const KEY = `tfk_0123456789abcdef_${'k'.repeat(43)}`;

function container(name: string): Container {
  return {
    id: name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a'),
    name,
    labels: { 'tunnelfleet.enable': 'true' },
    state: 'running',
    networks: {},
    exposedPorts: [],
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

/**
 * A loopback stand-in for the master that answers the first `refusals` reports with 429 and
 * `Retry-After: 1`, as the master's report rate limit does, and accepts every later one.
 */
async function rateLimitingMaster(refusals: number) {
  const reports: { report: Report; at: number; status: number }[] = [];
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    res.setHeader('content-type', 'application/json');
    if (req.url === AGENT_ROUTES.heartbeat) {
      res.end(JSON.stringify({ status: 'approved', reportIntervalSeconds: 3600, snapshotRequested: false }));
      return;
    }
    const report = JSON.parse(body) as Report;
    if (reports.length < refusals) {
      reports.push({ report, at: Date.now(), status: 429 });
      res.writeHead(429, { 'retry-after': '1' });
      res.end(
        JSON.stringify({ error: { code: 'rate_limited', message: 'too many reports from this agent' } }),
      );
      return;
    }
    reports.push({ report, at: Date.now(), status: 200 });
    res.end(JSON.stringify({ status: 'accepted', lastSequence: report.sequence }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, reports, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('reporter against a master that rate-limits reports', () => {
  it('waits for Retry-After, then delivers one snapshot holding the changes made meanwhile', async () => {
    const master = await rateLimitingMaster(1);
    cleanups.push(master.close);
    const link = createMasterLink();
    const client = createMasterClient({ masterUrl: master.url, apiKey: KEY, link });
    let containers = [container('web')];
    const reporter = createReporter({
      client,
      link,
      logger: createLogger({ name: 'reporter-test', level: 'silent' }),
      intervalSeconds: 3600,
      containers: () => containers,
      hostStatus: () => ({
        cloudflared: { state: 'missing', ready: false, tunnelId: null, containerId: null },
        dockerReachable: true,
        lastAppliedCommandVersion: null,
      }),
    });
    cleanups.push(() => reporter.stop());
    reporter.start(AGENT_ID);
    reporter.resynced();

    await waitFor(() => master.reports.length === 1, { description: 'the first snapshot, refused' });
    // A change while the agent is told to wait: not sent on its own, and not lost.
    const api = container('api');
    containers = [...containers, api];
    reporter.containerChanged({ action: 'upsert', container: api });
    reporter.requestSnapshot('master-reconnect');

    await waitFor(() => master.reports.length === 2, { description: 'the report after Retry-After' });
    const [refused, delivered] = master.reports;
    expect(refused?.status).toBe(429);
    expect(delivered?.status).toBe(200);
    expect(delivered!.at - refused!.at).toBeGreaterThanOrEqual(1000);
    expect(delivered?.report.kind).toBe('snapshot');
    const names = delivered?.report.kind === 'snapshot' ? delivered.report.containers.map((c) => c.name) : [];
    expect(names).toEqual(['web', 'api']);
    expect(delivered!.report.sequence).toBeGreaterThan(refused!.report.sequence);
    // A 429 is an answer: the link to the master stays up.
    expect(link.state().reachable).toBe(true);
  });
});
