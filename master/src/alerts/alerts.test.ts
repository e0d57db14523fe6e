import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AGENT_ROUTES,
  type AlertFormat,
  type Container,
  listAlertDeliveriesResponseSchema,
  listRoutesResponseSchema,
} from '@tunnelfleet/common';
import { startRedisServer, startWebhookReceiver, type WebhookReceiver, waitFor } from '@tunnelfleet/test';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';
import { container, webLabels } from '../../test/reconciler-test-world.js';
import { setSyncedRouteStatus } from '../store/routes.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from './webhook-signature.js';

const ENV = {
  ALERT_RETRY_BASE_MS: '20',
  ALERT_TIMEOUT_MS: '300',
  ALERT_MAX_ATTEMPTS: '3',
  SYNC_DEBOUNCE_MS: '50',
  // No cron during the tests: every sync is one a test caused.
  RECONCILE_CRON: '0 0 1 1 *',
};

async function addReceiver(
  fx: MasterFixture,
  receiver: WebhookReceiver,
  path: string,
  format: AlertFormat,
  events: string[],
): Promise<{ id: string; secret: string }> {
  const created = await fx.admin('POST', '/alerts/receivers', {
    name: path.split('/')[1],
    url: receiver.url(path),
    format,
    events,
  });
  expect(created.status).toBe(201);
  return { id: created.body.receiver.id, secret: created.body.secret };
}

function signatureValid(hook: { headers: Record<string, unknown>; body: string }, secret: string): boolean {
  return verifyWebhookSignature({
    secret,
    body: hook.body,
    signature: hook.headers[SIGNATURE_HEADER] as string,
    timestamp: hook.headers[TIMESTAMP_HEADER] as string,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
}

/** Events in the master's outbox of that type, with their data: what the alert service will send. */
function outbox(fx: MasterFixture, type: string): Record<string, unknown>[] {
  const rows = fx.master.db
    .prepare('SELECT data FROM alert_events WHERE type = ? ORDER BY seq')
    .all(type) as {
    data: string;
  }[];
  return rows.map((row) => JSON.parse(row.data));
}

function heartbeat(agentId: string, cloudflared: { state: string; ready: boolean }) {
  return {
    agentId,
    uptimeSeconds: 10,
    cloudflared: { ...cloudflared, tunnelId: null, containerId: null },
    lastAppliedCommandVersion: null,
    dockerReachable: true,
  };
}

/** A published web container; the same `id` reported again is the same container. */
function webContainer(hostname: string, id: string): Container {
  return { ...container('web', webLabels(hostname)), id: id.repeat(64) };
}

describe('alert webhooks', () => {
  let fx: MasterFixture;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startWebhookReceiver();
    fx = await startMasterFixture({ env: ENV });
    fx.emulator.createZone('example.com', fx.accountId);
  });
  afterAll(async () => {
    await fx?.close();
    await receiver?.close();
  });

  it('sends a signed test event in each format, and never shows the secret or the URL path again', async () => {
    const formats: AlertFormat[] = ['generic', 'slack', 'discord', 'ntfy'];
    const secrets = new Map<AlertFormat, string>();
    for (const format of formats) {
      // Subscribed to nothing the other tests raise: only the test event reaches them.
      const { id, secret } = await addReceiver(fx, receiver, `/format-${format}/topic-secret`, format, [
        'rollout.halted',
      ]);
      secrets.set(format, secret);
      const test = await fx.admin('POST', `/alerts/receivers/${id}/test`);
      expect(test.status).toBe(202);
      expect(test.body.delivery.eventType).toBe('alert.test');
    }
    const hooks = new Map<AlertFormat, { headers: Record<string, unknown>; body: string }>();
    for (const format of formats) {
      const [hook] = await receiver.waitForCount(`/format-${format}/topic-secret`, 1);
      expect(signatureValid(hook!, secrets.get(format)!)).toBe(true);
      expect(hook!.headers['x-tunnelfleet-event']).toBe('alert.test');
      for (const secret of [...secrets.values(), fx.adminToken, fx.cloudflareToken]) {
        expect(hook!.body).not.toContain(secret);
      }
      hooks.set(format, hook!);
    }

    const generic = JSON.parse(hooks.get('generic')!.body);
    expect(generic).toMatchObject({
      type: 'alert.test',
      severity: 'info',
      summary: 'Test alert for receiver format-generic',
    });
    expect(generic.id).toMatch(/^ev_[0-9a-f]{16}$/);
    expect(JSON.parse(hooks.get('slack')!.body).text).toBe('[info] Test alert for receiver format-slack');
    const discord = JSON.parse(hooks.get('discord')!.body);
    expect(discord.embeds[0]).toMatchObject({
      title: 'alert.test',
      footer: { text: expect.stringMatching(/^ev_/) },
    });
    const ntfy = hooks.get('ntfy')!;
    expect(ntfy.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(ntfy.headers.title).toBe('Tunnelfleet: alert.test');
    expect(ntfy.body.split('\n')[0]).toBe('Test alert for receiver format-ntfy');

    const listed = await fx.admin('GET', '/alerts/receivers');
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.body);
    for (const secret of secrets.values()) expect(text).not.toContain(secret);
    expect(text).not.toContain('topic-secret');
    expect(listed.body.receivers[0].urlOrigin).toBe(new URL(receiver.url('/')).origin);
  });

  it('changes and removes a receiver', async () => {
    const { id } = await addReceiver(fx, receiver, '/crud', 'generic', ['agent.offline']);
    const patched = await fx.admin('PATCH', `/alerts/receivers/${id}`, {
      events: ['route.error'],
      enabled: false,
    });
    expect(patched.status).toBe(200);
    expect(patched.body.receiver).toMatchObject({ events: ['route.error'], enabled: false });
    expect((await fx.admin('PATCH', `/alerts/receivers/${id}`, { events: ['no.such'] })).status).toBe(400);
    expect((await fx.admin('DELETE', `/alerts/receivers/${id}`)).status).toBe(204);
    expect((await fx.admin('GET', `/alerts/receivers/${id}`)).status).toBe(404);
  });

  it('retries a failing receiver with backoff until it accepts', async () => {
    receiver.script('/flaky', ['fail', 'fail']);
    const { id, secret } = await addReceiver(fx, receiver, '/flaky', 'generic', ['rollout.halted']);
    await fx.admin('POST', `/alerts/receivers/${id}/test`);
    const hooks = await receiver.waitForCount('/flaky', 3);
    // The same event each time, each attempt signed afresh.
    expect(new Set(hooks.map((hook) => JSON.parse(hook.body).id)).size).toBe(1);
    for (const hook of hooks) expect(signatureValid(hook, secret)).toBe(true);
    const delivery = await waitFor(
      async () => {
        const { deliveries } = listAlertDeliveriesResponseSchema.parse(
          (await fx.admin('GET', `/alerts/deliveries?receiverId=${id}`)).body,
        );
        return deliveries[0]?.status === 'delivered' ? deliveries[0] : undefined;
      },
      { description: 'the flaky delivery recorded as delivered' },
    );
    expect(delivery).toMatchObject({ attempts: 3, lastError: null });
  });

  it('fires once per revocation; a hanging receiver times out without holding up the revocation or others', async () => {
    receiver.behave('/hang', 'hang');
    const hanging = await addReceiver(fx, receiver, '/hang', 'generic', ['agent.revoked']);
    await addReceiver(fx, receiver, '/fine', 'generic', ['agent.revoked']);
    const agent = await fx.enrollAgent({ name: 'revoked-host' });

    expect((await fx.admin('POST', `/agents/${agent.agentId}/revoke`)).status).toBe(200);
    const [hook] = await receiver.waitForCount('/fine', 1);
    expect(JSON.parse(hook!.body)).toMatchObject({
      type: 'agent.revoked',
      data: { agentId: agent.agentId, agentName: 'revoked-host', reason: 'revoked by operator' },
    });
    // Revoking again changes nothing, so nothing new is raised.
    expect((await fx.admin('POST', `/agents/${agent.agentId}/revoke`)).status).toBe(200);
    expect(outbox(fx, 'agent.revoked').filter((data) => data.agentId === agent.agentId)).toHaveLength(1);

    const failed = await waitFor(
      async () => {
        const { deliveries } = listAlertDeliveriesResponseSchema.parse(
          (await fx.admin('GET', `/alerts/deliveries?receiverId=${hanging.id}`)).body,
        );
        return deliveries[0]?.status === 'failed' ? deliveries[0] : undefined;
      },
      // Three attempts, each waiting out its timeout, with backoff between: slow on a loaded machine.
      { description: 'the hanging delivery given up after its attempts', timeoutMs: 30_000 },
    );
    expect(failed).toMatchObject({ attempts: 3, lastError: 'no answer within 300 ms' });
    expect(receiver.received('/hang')).toHaveLength(3);
  });

  it('raises offline, back online and cloudflared changes once per transition', async () => {
    const agent = await fx.enrollAgent({ name: 'flaky-host' });
    const beat = (state: string, ready: boolean) =>
      fx.request('POST', AGENT_ROUTES.heartbeat, {
        token: agent.key,
        body: heartbeat(agent.agentId, { state, ready }),
      });
    const mine = (type: string) => outbox(fx, type).filter((data) => data.agentId === agent.agentId);

    expect((await beat('running', true)).status).toBe(200);
    fx.advanceClock(4 * 30_000);
    await fx.master.agents.markOfflineAgents();
    await fx.master.agents.markOfflineAgents();
    expect(mine('agent.offline')).toEqual([
      expect.objectContaining({ agentId: agent.agentId, agentName: 'flaky-host' }),
    ]);

    await beat('running', true);
    await beat('running', true);
    expect(mine('agent.online')).toHaveLength(1);

    // A second outage is a second transition; a restarted agent comes back by registering.
    fx.advanceClock(4 * 30_000);
    await fx.master.agents.markOfflineAgents();
    expect(mine('agent.offline')).toHaveLength(2);
    const registered = await fx.request('POST', AGENT_ROUTES.register, {
      token: agent.key,
      body: registerBody({ name: 'flaky-host', agentId: agent.agentId }),
    });
    expect(registered.status).toBe(200);
    await beat('running', true);
    expect(mine('agent.online')).toHaveLength(2);

    await beat('stopped', false);
    await beat('stopped', false);
    await beat('running', false);
    expect(mine('cloudflared.unhealthy')).toEqual([
      expect.objectContaining({ state: 'stopped', ready: false, agentName: 'flaky-host' }),
    ]);
    await beat('running', true);
    await beat('running', true);
    expect(mine('cloudflared.recovered')).toHaveLength(1);
  });

  it('raises a route entering conflict or error once, and delivers it', async () => {
    const hostname = 'contested.example.com';
    const { secret } = await addReceiver(fx, receiver, '/routes', 'generic', [
      'route.conflict',
      'route.error',
    ]);
    const first = await fx.enrollAgent({ name: 'first' });
    const second = await fx.enrollAgent({ name: 'second' });
    const report = (agent: { key: string; agentId: string }, sequence: number, id: string) => {
      const containers = [webContainer(hostname, id)];
      return fx.reportSnapshot(agent, sequence, containers);
    };
    expect((await report(first, 1, 'a')).body.status).toBe('accepted');
    const routes = async () =>
      listRoutesResponseSchema.parse((await fx.admin('GET', `/routes?hostname=${hostname}`)).body).routes;
    const winner = await waitFor(async () => (await routes()).find((r) => r.status === 'active'), {
      description: `${hostname} published for the first agent`,
    });
    expect((await report(second, 1, 'b')).body.status).toBe('accepted');
    // The same claim reported again keeps the conflict: no second event.
    const containers = [webContainer(hostname, 'b'), webContainer('other.example.com', 'c')];
    await fx.reportSnapshot(second, 2, containers);
    const [hook] = await receiver.waitForCount('/routes', 1);
    expect(signatureValid(hook!, secret)).toBe(true);
    expect(JSON.parse(hook!.body)).toMatchObject({
      type: 'route.conflict',
      data: { hostname, agentId: second.agentId },
    });
    expect(outbox(fx, 'route.conflict').filter((data) => data.hostname === hostname)).toHaveLength(1);

    // A sync's verdict, written twice with a new message: one transition, one event.
    setSyncedRouteStatus(fx.master.db, winner.id, 'error', 'DNS record refused', new Date().toISOString());
    setSyncedRouteStatus(
      fx.master.db,
      winner.id,
      'error',
      'DNS record refused again',
      new Date().toISOString(),
    );
    const hooks = await receiver.waitForCount('/routes', 2);
    expect(JSON.parse(hooks[1]!.body)).toMatchObject({
      type: 'route.error',
      data: { hostname, routeId: winner.id, previousStatus: 'active', message: 'DNS record refused' },
    });
    expect(outbox(fx, 'route.error').filter((data) => data.routeId === winner.id)).toHaveLength(1);
  });
});

describe('alert deliveries across a master restart', () => {
  it('sends what was pending or in flight when the master stopped', async () => {
    const receiver = await startWebhookReceiver();
    const redis = await startRedisServer();
    const dataDir = mkdtempSync(join(tmpdir(), 'tunnelfleet-alerts-'));
    // A receiver that hangs for longer than any test: the stop must cut the attempt short.
    const env = { ...ENV, ALERT_TIMEOUT_MS: '60000' };
    try {
      receiver.behave('/later', 'hang');
      const before = await startMasterFixture({ env, redis, dataDir });
      const { id } = await addReceiver(before, receiver, '/later', 'generic', ['rollout.halted']);
      await before.admin('POST', `/alerts/receivers/${id}/test`);
      const [refused] = await receiver.waitForCount('/later', 1);
      await before.close();
      const interrupted = new Database(join(dataDir, 'tunnelfleet.db'), { readonly: true });
      expect(interrupted.prepare('SELECT status, attempts FROM alert_deliveries').all()).toEqual([
        { status: 'pending', attempts: 0 },
      ]);
      interrupted.close();

      receiver.behave('/later', 'ok');
      const after = await startMasterFixture({ env, redis, dataDir });
      try {
        const delivered = await waitFor(
          async () => {
            const { deliveries } = listAlertDeliveriesResponseSchema.parse(
              (await after.admin('GET', `/alerts/deliveries?receiverId=${id}`)).body,
            );
            return deliveries[0]?.status === 'delivered' ? deliveries[0] : undefined;
          },
          { description: 'the pending delivery sent by the restarted master' },
        );
        const last = receiver.received('/later').at(-1)!;
        expect(JSON.parse(last.body).id).toBe(JSON.parse(refused!.body).id);
        expect(delivered.eventType).toBe('alert.test');
      } finally {
        await after.close();
      }
    } finally {
      await receiver.close();
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
