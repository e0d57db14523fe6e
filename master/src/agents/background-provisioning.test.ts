import { AGENT_ROUTES } from '@tunnelfleet/common';
import { startRedisServer, waitFor } from '@tunnelfleet/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';
import { findAgent } from '../store/agents.js';

// A registration answers before its tunnel is made (a fleet enrolling at once would otherwise wait
// in Cloudflare's budget for longer than the agents' request timeout); the tunnel follows as
// start_tunnel. The emulator holds or refuses the tunnel creation so each case plays the same way.
const CREATE_TUNNEL = 'POST /accounts/:id/cfd_tunnel';

async function autoApprovingKey(fx: MasterFixture, name: string): Promise<string> {
  const created = await fx.admin('POST', '/keys', { name, autoApprove: true, allowAnyHostname: true });
  expect(created.status).toBe(201);
  return created.body.key;
}

/** Registers a new auto-approved agent, its tunnel creation held at the emulator until `release`. */
async function registerWithCreationHeld(fx: MasterFixture, name: string) {
  const key = await autoApprovingKey(fx, name);
  fx.emulator.faults.hold(CREATE_TUNNEL);
  const answer = await fx.request('POST', AGENT_ROUTES.register, {
    token: key,
    body: registerBody({ name }),
  });
  await waitFor(() => fx.emulator.faults.held() === 1, { description: 'the tunnel creation held' });
  return { key, answer, agentId: answer.body.agentId as string };
}

const tunnelCreations = (fx: MasterFixture) =>
  fx.emulator.calls().filter((call) => call.route === CREATE_TUNNEL && call.status < 300);

describe('registration with the tunnel provisioned in the background', () => {
  let fx: MasterFixture;
  beforeAll(async () => {
    // A housekeeping tick every second: the retry of a refused provisioning comes quickly.
    fx = await startMasterFixture({ reportIntervalSeconds: 1 });
  });
  afterEach(() => fx.emulator.faults.clear());
  afterAll(async () => {
    await fx?.close();
  });

  it('answers approved while Cloudflare holds the tunnel creation; the tunnel follows as start_tunnel', async () => {
    const { key, answer, agentId } = await registerWithCreationHeld(fx, 'held');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      status: 'approved',
      message: 'approved; its tunnel is being provisioned and follows as start_tunnel',
    });
    // Answered with the creation still held: no tunnel anywhere yet.
    expect(await fx.liveTunnels(`tunnelfleet-${agentId}`)).toEqual([]);
    expect((await fx.admin('GET', `/agents/${agentId}`)).body.agent.tunnel).toBeNull();

    fx.emulator.faults.release();
    const command = await fx.applyNext(key);
    expect(command.type).toBe('start_tunnel');
    const tunnels = await fx.liveTunnels(`tunnelfleet-${agentId}`);
    expect(tunnels).toHaveLength(1);
    expect(command.payload).toMatchObject({ tunnelId: tunnels[0]!.id, tunnelName: `tunnelfleet-${agentId}` });
  });

  it('an agent registering again while its tunnel is being made gets the one tunnel, made once', async () => {
    fx.emulator.clearCalls();
    const { key, agentId } = await registerWithCreationHeld(fx, 'impatient');
    // Its request "timed out" and it registers again, with the id it was given.
    const again = await fx.request('POST', AGENT_ROUTES.register, {
      token: key,
      body: registerBody({ name: 'impatient', agentId }),
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ agentId, status: 'approved' });
    expect(fx.emulator.faults.held()).toBe(1);

    fx.emulator.faults.release();
    expect((await fx.applyNext(key)).type).toBe('start_tunnel');
    expect(await fx.liveTunnels(`tunnelfleet-${agentId}`)).toHaveLength(1);
    expect(tunnelCreations(fx)).toHaveLength(1);
  });

  it('a provisioning Cloudflare refused is made again at housekeeping, without the agent registering again', async () => {
    const key = await autoApprovingKey(fx, 'refused');
    fx.emulator.faults.set({ failNext: { route: CREATE_TUNNEL, status: 400, count: 1 } });
    const answer = await fx.request('POST', AGENT_ROUTES.register, {
      token: key,
      body: registerBody({ name: 'refused' }),
    });
    expect(answer.body.status).toBe('approved');
    const agentId = answer.body.agentId as string;
    const audit = async () =>
      ((await fx.admin('GET', `/audit?target=${agentId}`)).body.entries as { action: string }[]).map(
        (entry) => entry.action,
      );
    await waitFor(async () => (await audit()).includes('agent.tunnel_failed'), {
      description: 'the refused provisioning recorded',
    });

    // No second registration: the housekeeping tick finds the approved agent without a tunnel.
    const command = await fx.applyNext(key);
    expect(command.type).toBe('start_tunnel');
    const tunnels = await fx.liveTunnels(`tunnelfleet-${agentId}`);
    expect(tunnels).toHaveLength(1);
    expect(command.payload).toMatchObject({ tunnelId: tunnels[0]!.id });
  });
});

describe('a master stopped while it provisioned a tunnel', () => {
  it('the next master makes the tunnel (the one Cloudflare already has) and sends start_tunnel', async () => {
    const redis = await startRedisServer();
    const first = await startMasterFixture({ redis });
    let second: MasterFixture | undefined;
    try {
      const { key, agentId } = await registerWithCreationHeld(first, 'interrupted');
      // The master stops with the creation in flight; Cloudflare carries it out after all.
      await first.master.close();
      first.emulator.faults.release();
      await waitFor(async () => (await first.liveTunnels(`tunnelfleet-${agentId}`)).length === 1, {
        description: 'the creation done at Cloudflare',
      });

      second = await startMasterFixture({ redis, dataDir: first.dataDir, cloudflare: first });
      expect(findAgent(second.master.db, agentId)?.status).toBe('approved');
      const command = await second.applyNext(key);
      expect(command.type).toBe('start_tunnel');
      const tunnels = await second.liveTunnels(`tunnelfleet-${agentId}`);
      expect(tunnels).toHaveLength(1);
      expect(command.payload).toMatchObject({ tunnelId: tunnels[0]!.id });
      expect((await second.admin('GET', `/agents/${agentId}`)).body.agent.tunnel.id).toBe(tunnels[0]!.id);
    } finally {
      await second?.close();
      await first.close();
      await redis.stop();
    }
  });
});
