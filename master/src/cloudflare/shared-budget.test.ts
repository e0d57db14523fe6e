import { createHash } from 'node:crypto';
import {
  type CloudflareBudgetResponse,
  type Container,
  cloudflareBudgetResponseSchema,
  listRoutesResponseSchema,
} from '@tunnelfleet/common';
import { startWebhookReceiver, type WebhookReceiver, waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';

/** Calls per window at the emulator and in the master; the window is short so the block ends soon. */
const LIMIT = 40;
const WINDOW_SECONDS = 8;
const ZONE = 'example.com';
/** What the other tool sends: a route the master never calls while this test runs. */
const OUTSIDE_ROUTE = 'GET /user/tokens/verify';

function container(name: string, hostname: string): Container {
  return {
    id: createHash('sha256').update(`${name} ${hostname}`).digest('hex'),
    name,
    labels: {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': hostname,
      'tunnelfleet.service': `http://${name}:80`,
    },
    state: 'running',
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

/**
 * Issue 15, "graceful under pressure": the operator's other tool spends the token's budget
 * (Cloudflare counts every caller of a token together), so the master's next calls meet 429s.
 * The master must wait for Retry-After, show the backlog in the API, `/metrics` and an alert, and
 * once the block is over publish every change made meanwhile, the last one of each route winning.
 */
describe('another tool uses up the token the master shares', () => {
  let fx: MasterFixture;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    fx = await startMasterFixture({
      cloudflareRateLimit: { requests: LIMIT, windowSeconds: WINDOW_SECONDS },
      env: {
        CLOUDFLARE_CALLS_PER_WINDOW: String(LIMIT),
        CLOUDFLARE_WINDOW_SECONDS: String(WINDOW_SECONDS),
        SYNC_DEBOUNCE_MS: '50',
        ALERT_RETRY_BASE_MS: '20',
        // No cron and no drift check while the test runs: every call is a change's.
        RECONCILE_CRON: '0 0 1 1 *',
        DRIFT_CHECK_PERIOD: '7d',
      },
    });
    fx.emulator.createZone(ZONE, fx.accountId);
  });
  afterAll(async () => {
    await fx?.close();
    await receiver?.close();
  });

  const budget = async (): Promise<CloudflareBudgetResponse> =>
    cloudflareBudgetResponseSchema.parse((await fx.admin('GET', '/cloudflare/budget')).body);
  const routes = async (agentId: string) =>
    listRoutesResponseSchema.parse((await fx.admin('GET', `/routes?agentId=${agentId}`)).body).routes;
  const published = (tunnelId: string) => {
    const records = fx.emulator
      .dnsRecords(ZONE)
      .map((r) => String(r.name))
      .sort();
    const config = fx.emulator.tunnelConfig(tunnelId)?.config as { ingress?: { hostname?: string }[] };
    const rules = (config?.ingress ?? []).flatMap((r) => (r.hostname ? [r.hostname] : [])).sort();
    return { records, rules };
  };

  it('pauses for Retry-After, shows the backlog in the API, /metrics and an alert, then publishes every change, the last of each route winning', async () => {
    const created = await fx.admin('POST', '/alerts/receivers', {
      name: 'budget',
      url: receiver.url('/budget'),
      format: 'generic',
      events: ['cloudflare.budget_exhausted'],
    });
    expect(created.status).toBe(201);
    const agent = await fx.enrollAgent({ name: 'busy' });
    const [tunnel] = await waitFor(
      async () => {
        const live = await fx.liveTunnels(`tunnelfleet-${agent.agentId}`);
        return live.length > 0 ? live : undefined;
      },
      { description: "the agent's tunnel at the emulator" },
    );
    const tunnelId = tunnel!.id;
    expect((await fx.reportSnapshot(agent, 1, [container('web', `v1.${ZONE}`)])).status).toBe(200);
    await waitFor(() => published(tunnelId).records.includes(`v1.${ZONE}`) || undefined, {
      description: 'v1 published before the other tool starts',
    });
    await waitFor(
      async () => (await routes(agent.agentId)).every((r) => r.status === 'active') || undefined,
      {
        description: 'v1 active',
      },
    );

    // The other tool, on the same token, calls until Cloudflare blocks the token for a window.
    const outsideHeaders = { authorization: `Bearer ${fx.cloudflareToken}` };
    let retryAfter: string | null = null;
    for (let n = 0; n <= LIMIT && retryAfter === null; n++) {
      const reply = await fetch(`${fx.emulator.baseUrl}/user/tokens/verify`, { headers: outsideHeaders });
      await reply.body?.cancel();
      if (reply.status === 429) retryAfter = reply.headers.get('retry-after');
    }
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const blockedAt = fx.emulator.calls().find((c) => c.status === 429)!.time;

    // Changes while the token is blocked: web's hostname moves twice (v1 → v2 → v3) and api appears.
    expect((await fx.reportSnapshot(agent, 2, [container('web', `v2.${ZONE}`)])).status).toBe(200);
    expect(
      (await fx.reportSnapshot(agent, 3, [container('web', `v3.${ZONE}`), container('api', `api.${ZONE}`)]))
        .status,
    ).toBe(200);

    // The backlog, as an operator sees it: the budget API and /metrics.
    const paused = await waitFor(
      async () => {
        const state = await budget();
        const token = state.tokens.find(
          (t) => t.pausedSeconds > 0 && t.queued.change > 0 && t.oldestChangeWaitSeconds > 0,
        );
        return token ? { state, token } : undefined;
      },
      { description: 'the budget API shows the 429 pause and changes waiting' },
    );
    expect(paused.token.pausedSeconds).toBeLessThanOrEqual(WINDOW_SECONDS);
    const metrics = (await fx.request('GET', '/metrics')).body as string;
    const gauge = (name: string, labels: string) =>
      Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    const token = `token="${paused.token.token}"`;
    expect(gauge('tunnelfleet_cloudflare_budget_paused_seconds', token)).toBeGreaterThan(0);
    expect(gauge('tunnelfleet_cloudflare_budget_queued', `${token},lane="change"`)).toBeGreaterThan(0);

    // The alert: once for the pause, with Cloudflare's Retry-After.
    const [hook] = await receiver.waitForCount('/budget', 1);
    expect(JSON.parse(hook!.body)).toMatchObject({
      type: 'cloudflare.budget_exhausted',
      summary: expect.stringContaining(`token ${paused.token.token} is exhausted`),
      data: { tokenName: paused.token.token, reason: 'rate_limited' },
    });
    const alerted = JSON.parse(hook!.body).data.retryAfterSeconds as number;
    expect(alerted).toBeGreaterThan(0);
    expect(alerted).toBeLessThanOrEqual(WINDOW_SECONDS);

    // Once the block is over: exactly the last state, nothing lost, nothing older written back.
    await waitFor(
      () => {
        const now = published(tunnelId);
        const want = [`api.${ZONE}`, `v3.${ZONE}`];
        return JSON.stringify(now.records) === JSON.stringify(want) &&
          JSON.stringify(now.rules) === JSON.stringify(want)
          ? now
          : undefined;
      },
      { description: 'api and v3 published, v1 removed, v2 never left behind', timeoutMs: 60_000 },
    );
    await waitFor(
      async () => {
        const live = (await routes(agent.agentId)).filter((r) => r.status !== 'pending_deletion');
        return live.length === 2 && live.every((r) => r.status === 'active') ? live : undefined;
      },
      { description: 'both routes active', timeoutMs: 30_000 },
    );

    // Retry-After honoured: the master's 429s are those of the calls in flight when the first came
    // back (the tunnel's and the zone's sync, a call or two each), not a retry loop through the
    // block, and none came after it resumed.
    const masterCalls = fx.emulator.calls().filter((c) => c.route !== OUTSIDE_ROUTE && c.time >= blockedAt);
    const limited = masterCalls.filter((c) => c.status === 429);
    const resumed = masterCalls.find((c) => c.status !== 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.length).toBeLessThanOrEqual(4);
    expect(resumed).toBeDefined();
    expect(masterCalls.filter((c) => c.status === 429 && c.time > resumed!.time)).toEqual([]);
    // Every write came once the block was over, none was dropped on a 429.
    expect(masterCalls.filter((c) => c.method !== 'GET' && c.status >= 400)).toEqual([]);
  });
});
