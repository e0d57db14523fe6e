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
  it('a registration that was creating the tunnel when the agent was revoked leaves no tunnel and gets 401', async () => {
    const { key } = await createKey('race-tunnel');
    fx.emulator.faults.hold('POST /accounts/:id/cfd_tunnel');
    const registering = fx.request('POST', AGENT_ROUTES.register, {
      token: key,
      body: registerBody({ name: 'race-tunnel' }),
    });
    try {
      await waitFor(() => fx.emulator.faults.held() === 1, {
        description: 'the tunnel creation held at the emulator',
      });
      const agents = (await fx.admin('GET', '/agents')).body.agents as { id: string; name: string }[];
      const agentId = agents.find((agent) => agent.name === 'race-tunnel')!.id;
      expect((await fx.admin('POST', `/agents/${agentId}/revoke`)).status).toBe(200);
      fx.emulator.faults.release();

      const answer = await registering;
      expect(answer.status).toBe(401);
      // Gone at Cloudflare by the time the registration answers: no housekeeping run needed.
      expect(await fx.liveTunnels(`tunnelfleet-${agentId}`)).toEqual([]);
      const detail = (await fx.admin('GET', `/agents/${agentId}`)).body.agent;
      expect(detail.status).toBe('revoked');
      expect(detail.tunnel?.deletedAt ?? 'no tunnel').not.toBeNull();
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
