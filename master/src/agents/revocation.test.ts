import { AGENT_ROUTES, type Command, commandAckPath } from '@tunnelfleet/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';

let fx: MasterFixture;
beforeAll(async () => {
  fx = await startMasterFixture();
});
afterAll(async () => {
  await fx?.close();
});

/** Takes the start_tunnel an approved agent gets at registration and acknowledges it. */
async function drainStartTunnel(key: string): Promise<Command> {
  const answer = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=5`, { token: key });
  const command = answer.body.command as Command;
  expect(command.type).toBe('start_tunnel');
  await fx.request('POST', commandAckPath(command.id), {
    token: key,
    body: { commandId: command.id, version: command.version, status: 'ok' },
  });
  return command;
}

/** A route row as the routes engine would write it (that engine is not part of this package yet). */
function insertRoute(agentId: string, hostname: string): void {
  const now = new Date().toISOString();
  fx.master.db
    .prepare(
      `INSERT INTO routes (agent_id, container_id, container_name, route_key, hostname, service, status,
         claimed_at, created_at, updated_at)
       VALUES (?, ?, 'web', 'default', ?, 'http://web:80', 'active', ?, ?, ?)`,
    )
    .run(agentId, 'c'.repeat(64), hostname, now, now, now);
}

describe('revocation', () => {
  it.each(['agent', 'key'] as const)(
    'revoking the %s ends the open long-poll, refuses the next request, deletes the tunnel and marks routes; others keep working',
    async (what) => {
      const victim = await fx.enrollAgent({ name: `victim-${what}` });
      const bystander = await fx.enrollAgent({ name: `bystander-${what}` });
      await drainStartTunnel(victim.key);
      await drainStartTunnel(bystander.key);
      insertRoute(victim.agentId, `victim-${what}.example.com`);
      insertRoute(bystander.agentId, `bystander-${what}.example.com`);
      const tunnelName = `tunnelfleet-${victim.agentId}`;
      expect(await fx.liveTunnels(tunnelName)).toHaveLength(1);

      // Both agents wait on a 30 s long-poll.
      const victimPoll = fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=30`, {
        token: victim.key,
      });
      const bystanderController = new AbortController();
      const bystanderPoll = fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=30`, {
        token: bystander.key,
        signal: bystanderController.signal,
      });
      await expect.poll(() => fx.master.openLongPolls()).toBe(2);

      const revoked =
        what === 'agent'
          ? await fx.admin('POST', `/agents/${victim.agentId}/revoke`)
          : await fx.admin('POST', `/keys/${victim.keyId}/revoke`);
      expect(revoked.status).toBe(200);

      // The open long-poll ended at once (well before its 30 s) with a refusal.
      const ended = await victimPoll;
      expect(ended.status).toBe(401);
      expect(ended.body.error.code).toBe('unauthenticated');

      // The very next request is refused too, whatever it is.
      for (const [method, path] of [
        ['POST', AGENT_ROUTES.heartbeat],
        ['GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=0`],
        ['POST', AGENT_ROUTES.register],
      ] as const) {
        const answer = await fx.request(method, path, {
          token: victim.key,
          ...(method === 'POST' ? { body: {} } : {}),
        });
        expect(answer.status, `${method} ${path}`).toBe(401);
      }

      // Its tunnel is gone at Cloudflare and its routes are marked; the bystander's are not.
      expect(await fx.liveTunnels(tunnelName)).toHaveLength(0);
      expect(await fx.liveTunnels(`tunnelfleet-${bystander.agentId}`)).toHaveLength(1);
      const routes = (await fx.admin('GET', '/routes')).body.routes as { agentId: string; status: string }[];
      expect(routes.find((r) => r.agentId === victim.agentId)?.status).toBe('revoked');
      expect(routes.find((r) => r.agentId === bystander.agentId)?.status).toBe('active');

      // The bystander's poll is still open and it keeps working.
      expect(fx.master.openLongPolls()).toBe(1);
      bystanderController.abort();
      await bystanderPoll.catch(() => undefined);
      const beat = await fx.request('POST', AGENT_ROUTES.heartbeat, {
        token: bystander.key,
        body: {
          agentId: bystander.agentId,
          uptimeSeconds: 1,
          cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
          lastAppliedCommandVersion: 1,
          dockerReachable: true,
        },
      });
      expect(beat.status).toBe(200);

      // Everything is in the audit log.
      const actions = (
        (await fx.admin('GET', '/audit?limit=500')).body.entries as { action: string; target: string }[]
      )
        .filter(
          (e) =>
            e.target === victim.agentId || e.target === victim.keyId || e.action.startsWith('cloudflare.'),
        )
        .map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining([
          'agent.revoke',
          'routes.revoke',
          'cloudflare.tunnel.delete',
          'agent.register',
        ]),
      );
      if (what === 'key') expect(actions).toContain('key.revoke');
    },
  );

  it('deleting an agent removes it and its tunnel; its key stays revoked', async () => {
    const agent = await fx.enrollAgent({ name: 'doomed' });
    const deleted = await fx.admin('DELETE', `/agents/${agent.agentId}`);
    expect(deleted.status).toBe(204);
    expect((await fx.admin('GET', `/agents/${agent.agentId}`)).status).toBe(404);
    expect(await fx.liveTunnels(`tunnelfleet-${agent.agentId}`)).toHaveLength(0);
    const keys = (await fx.admin('GET', '/keys')).body.keys as { id: string; revokedAt: string | null }[];
    expect(keys.find((k) => k.id === agent.keyId)?.revokedAt).not.toBeNull();
    const reused = await fx.request('POST', AGENT_ROUTES.register, {
      token: agent.key,
      body: { name: 'doomed', agentVersion: '1', hostname: 'h', docker: null },
    });
    expect(reused.status).toBe(401);
  });
});
