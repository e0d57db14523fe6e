import { AGENT_ROUTES } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';
import { findAgentKey } from '../store/agent-keys.js';
import { findAgentByKey } from '../store/agents.js';

// Revocations that land while a registration is in flight. The emulator holds the registration's
// Cloudflare call (or the test holds its body) so each race is played the same way every time.
let fx: MasterFixture;
beforeAll(async () => {
  fx = await startMasterFixture();
});
afterAll(async () => {
  await fx?.close();
});

async function createKey(name: string): Promise<{ key: string; keyId: string }> {
  const created = await fx.admin('POST', '/keys', { name, autoApprove: true, allowAnyHostname: true });
  expect(created.status).toBe(201);
  return { key: created.body.key, keyId: created.body.record.id };
}

describe('revocation racing a registration', () => {
  it('a tunnel being made for a registration when the agent is revoked is deleted again and never sent', async () => {
    const { key } = await createKey('race-tunnel');
    fx.emulator.faults.hold('POST /accounts/:id/cfd_tunnel');
    try {
      const answer = await fx.request('POST', AGENT_ROUTES.register, {
        token: key,
        body: registerBody({ name: 'race-tunnel' }),
      });
      // The registration does not wait for Cloudflare: approved, the tunnel follows.
      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('approved');
      expect(answer.body.message).toContain('follows as start_tunnel');
      const agentId = answer.body.agentId as string;
      await waitFor(() => fx.emulator.faults.held() === 1, {
        description: 'the tunnel creation held at the emulator',
      });
      expect((await fx.admin('POST', `/agents/${agentId}/revoke`)).status).toBe(200);
      fx.emulator.faults.release();

      // The creation went through at the emulator after the revocation: the provisioning deletes it.
      await waitFor(
        async () => (await fx.admin('GET', `/agents/${agentId}`)).body.agent.tunnel?.deletedAt ?? undefined,
        { description: 'the tunnel made meanwhile deleted' },
      );
      expect(await fx.liveTunnels(`tunnelfleet-${agentId}`)).toEqual([]);
      expect((await fx.admin('GET', `/agents/${agentId}`)).body.agent.status).toBe('revoked');
      // No start_tunnel (nor its token) reaches the revoked key.
      const poll = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=1`, { token: key });
      expect(poll.status).toBe(401);
    } finally {
      fx.emulator.faults.release();
    }
  });

  it('a registration whose key was revoked while its body was arriving binds no agent and makes no tunnel', async () => {
    const { key, keyId } = await createKey('race-key');
    let send!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        send = controller;
      },
    });
    const text = JSON.stringify(registerBody({ name: 'race-key' }));
    const registering = fetch(`${fx.master.url}${AGENT_ROUTES.register}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    send.enqueue(new TextEncoder().encode(text.slice(0, 5)));
    // The key passed the door (it is marked used) before the body is complete.
    await waitFor(() => findAgentKey(fx.master.db, keyId)?.lastUsedAt, {
      description: 'the key checked at the door',
    });
    expect((await fx.admin('POST', `/keys/${keyId}/revoke`)).status).toBe(200);
    send.enqueue(new TextEncoder().encode(text.slice(5)));
    send.close();

    const answer = await registering;
    expect(answer.status).toBe(401);
    expect(findAgentByKey(fx.master.db, keyId)).toBeUndefined();
    const tunnels = fx.emulator.tunnels().filter((tunnel) => !tunnel.deleted_at);
    expect(tunnels.map((tunnel) => tunnel.name)).toEqual([]);
  });
});
