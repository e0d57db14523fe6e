import { AGENT_ROUTES, type Command, commandAckPath } from '@tunnelfleet/common';
import { decodeTunnelToken } from '@tunnelfleet/test';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';

let fx: MasterFixture;
let redis: Redis;
beforeAll(async () => {
  fx = await startMasterFixture({ reportIntervalSeconds: 5 });
  redis = new Redis(fx.redis.url);
});
afterAll(async () => {
  redis?.disconnect();
  await fx?.close();
});

async function nextCommand(key: string, waitSeconds = 5): Promise<Command | null> {
  const answer = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=${waitSeconds}`, {
    token: key,
  });
  expect(answer.status).toBe(200);
  return answer.body.command;
}

/** Takes the next command and acknowledges it as applied, as the agent does. */
async function applyNext(key: string): Promise<Command> {
  const command = await nextCommand(key);
  expect(command).not.toBeNull();
  const ack = await fx.request('POST', commandAckPath(command!.id), {
    token: key,
    body: {
      commandId: command!.id,
      version: command!.version,
      status: 'ok',
      result: { action: 'unchanged' },
    },
  });
  expect(ack.status).toBe(200);
  return command!;
}

function heartbeat(agentId: string, lastAppliedCommandVersion: number | null) {
  return {
    agentId,
    uptimeSeconds: 10,
    cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
    lastAppliedCommandVersion,
    dockerReachable: true,
  };
}

describe('pause and resume', () => {
  it('pause sends stop_tunnel, registration keeps it paused, resume sends start_tunnel; both audited', async () => {
    const agent = await fx.enrollAgent({ name: 'pausable' });
    const start = await applyNext(agent.key);
    expect(start.type).toBe('start_tunnel');

    const paused = await fx.admin('POST', `/agents/${agent.agentId}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.agent).toMatchObject({ tunnelStatus: 'paused', pausedAt: expect.any(String) });
    const stop = await applyNext(agent.key);
    expect(stop).toMatchObject({
      type: 'stop_tunnel',
      payload: { tunnelId: (start as Extract<Command, { type: 'start_tunnel' }>).payload.tunnelId },
    });
    expect(stop.version).toBeGreaterThan(start.version);

    // The agent restarts and registers again: no start_tunnel for a paused host.
    const again = await fx.request('POST', AGENT_ROUTES.register, {
      token: agent.key,
      body: registerBody({ name: 'pausable', agentId: agent.agentId }),
    });
    expect(again.body.status).toBe('approved');
    expect(await nextCommand(agent.key, 0)).toBeNull();
    expect((await fx.admin('GET', `/agents/${agent.agentId}`)).body.agent.tunnelStatus).toBe('paused');

    const resumed = await fx.admin('POST', `/agents/${agent.agentId}/resume`);
    expect(resumed.body.agent).toMatchObject({ tunnelStatus: 'running', pausedAt: null });
    const restart = await applyNext(agent.key);
    expect(restart.type).toBe('start_tunnel');
    expect(restart.version).toBeGreaterThan(stop.version);

    const audit = await fx.admin('GET', `/audit?target=${agent.agentId}`);
    const actions = (audit.body.entries as { action: string; actor: string }[])
      .filter((entry) => entry.action === 'agent.pause' || entry.action === 'agent.resume')
      .map((entry) => `${entry.actor}:${entry.action}`);
    expect(actions.sort()).toEqual(['admin:agent.pause', 'admin:agent.resume']);
  });

  it('refuses to pause an agent that is not approved', async () => {
    const created = await fx.admin('POST', '/keys', {
      name: 'manual',
      autoApprove: false,
      allowAnyHostname: true,
    });
    const registered = await fx.request('POST', AGENT_ROUTES.register, {
      token: created.body.key,
      body: registerBody({ name: 'manual' }),
    });
    const answer = await fx.admin('POST', `/agents/${registered.body.agentId}/pause`);
    expect(answer.status).toBe(409);
    expect(answer.body.error.message).toContain('pending');
  });
});

describe('command versions after Redis lost its data', () => {
  it('the next command is above every version issued before the wipe', async () => {
    const agent = await fx.enrollAgent({ name: 'wiped' });
    const start = await applyNext(agent.key);
    await fx.admin('POST', `/agents/${agent.agentId}/pause`);
    const stop = await applyNext(agent.key);

    await redis.flushall();

    await fx.admin('POST', `/agents/${agent.agentId}/resume`);
    const resumed = await applyNext(agent.key);
    expect(resumed.type).toBe('start_tunnel');
    expect(resumed.version).toBeGreaterThan(Math.max(start.version, stop.version));
  });

  it('the floor also follows the version the agent reports applied in its heartbeat', async () => {
    const agent = await fx.enrollAgent({ name: 'ahead' });
    await applyNext(agent.key);
    // An agent whose applied version is ahead of anything this store issued (the store was restored
    // from an older backup, then Redis lost its data too).
    const beat = await fx.request('POST', AGENT_ROUTES.heartbeat, {
      token: agent.key,
      body: heartbeat(agent.agentId, 500),
    });
    expect(beat.status).toBe(200);
    await redis.flushall();

    await fx.admin('POST', `/agents/${agent.agentId}/pause`);
    expect((await applyNext(agent.key)).version).toBeGreaterThan(500);
  });
});

describe('rotating tunnel secrets', () => {
  it('sends update_tunnel with a token of a new secret for the same tunnel, audited', async () => {
    const agent = await fx.enrollAgent({ name: 'rotated' });
    const start = (await applyNext(agent.key)) as Extract<Command, { type: 'start_tunnel' }>;

    const answer = await fx.admin('POST', `/agents/${agent.agentId}/rotate-secret`);
    expect(answer.status).toBe(200);
    const update = await applyNext(agent.key);
    expect(update.type).toBe('update_tunnel');
    if (update.type !== 'update_tunnel') return;
    expect(update.payload.tunnelId).toBe(start.payload.tunnelId);
    const before = decodeTunnelToken(start.payload.token);
    const after = decodeTunnelToken(update.payload.token);
    expect(after?.t).toBe(before?.t);
    expect(after?.s).not.toBe(before?.s);

    const audit = await fx.admin('GET', `/audit?target=${agent.agentId}`);
    expect((audit.body.entries as { action: string }[]).map((e) => e.action)).toContain(
      'agent.rotate_secret',
    );
  });

  it('rotates every approved agent with a tunnel at once', async () => {
    const one = await fx.enrollAgent({ name: 'leak-1' });
    const two = await fx.enrollAgent({ name: 'leak-2' });
    await applyNext(one.key);
    await applyNext(two.key);

    const answer = await fx.admin('POST', '/agents/rotate-secret');
    expect(answer.status).toBe(200);
    const results = answer.body.results as { agentId: string; rotated: boolean }[];
    expect(results).toEqual(
      expect.arrayContaining([
        { agentId: one.agentId, rotated: true },
        { agentId: two.agentId, rotated: true },
      ]),
    );
    expect((await applyNext(one.key)).type).toBe('update_tunnel');
    expect((await applyNext(two.key)).type).toBe('update_tunnel');
  });
});
