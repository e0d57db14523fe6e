import { AGENT_ROUTES, type Command } from '@tunnelfleet/common';
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
const applyNext = (key: string): Promise<Command> => fx.applyNext(key);

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

describe("cloudflared's image and settings", () => {
  type UpdateTunnel = Extract<Command, { type: 'update_tunnel' }>;
  type StartTunnel = Extract<Command, { type: 'start_tunnel' }>;
  const FLEET_IMAGE = 'cloudflare/cloudflared:2024.1.0';
  const HOST_IMAGE = 'cloudflare/cloudflared:2024.2.0';

  it('sends a fleet change to running agents only, and the rest get it when they start (image at once: rollout false)', async () => {
    const running = await fx.enrollAgent({ name: 'cfd-running' });
    const paused = await fx.enrollAgent({ name: 'cfd-paused' });
    const start = (await applyNext(running.key)) as StartTunnel;
    await applyNext(paused.key);
    await fx.admin('POST', `/agents/${paused.agentId}/pause`);
    await applyNext(paused.key);

    const settings = { protocol: 'http2', retries: 3, gracePeriodSeconds: 45 };
    const put = await fx.admin('PUT', '/cloudflared', { image: FLEET_IMAGE, settings, rollout: false });
    expect(put.status).toBe(200);
    expect(put.body.config).toMatchObject({ image: FLEET_IMAGE, settings });
    expect(put.body.updatedAgents).toContain(running.agentId);
    expect(put.body.updatedAgents).not.toContain(paused.agentId);

    const update = (await applyNext(running.key)) as UpdateTunnel;
    expect(update).toMatchObject({
      type: 'update_tunnel',
      payload: { tunnelId: start.payload.tunnelId, cloudflaredImage: FLEET_IMAGE, settings },
    });
    // No token: the secret is not what changed.
    expect(update.payload.token).toBeUndefined();
    expect(await nextCommand(paused.key, 0)).toBeNull();

    await fx.admin('POST', `/agents/${paused.agentId}/resume`);
    expect(await applyNext(paused.key)).toMatchObject({
      type: 'start_tunnel',
      payload: { cloudflaredImage: FLEET_IMAGE, settings },
    });
    const newcomer = await fx.enrollAgent({ name: 'cfd-newcomer' });
    expect(await applyNext(newcomer.key)).toMatchObject({
      type: 'start_tunnel',
      payload: { cloudflaredImage: FLEET_IMAGE, settings },
    });
    expect((await fx.admin('GET', '/cloudflared')).body).toMatchObject({
      config: { image: FLEET_IMAGE, settings },
      defaultImage: expect.any(String),
    });

    // The same choice again is sent again: it repairs a host that missed it (the agent recreates
    // nothing for it), now to the resumed host too.
    const again = await fx.admin('PUT', '/cloudflared', { image: FLEET_IMAGE, settings, rollout: false });
    expect(again.body).toMatchObject({ failedAgents: [] });
    expect(again.body.updatedAgents).toEqual(expect.arrayContaining([running.agentId, paused.agentId]));
    expect(await applyNext(running.key)).toMatchObject({
      type: 'update_tunnel',
      payload: { cloudflaredImage: FLEET_IMAGE, settings },
    });
  });

  it("applies a host's override over the fleet's, field by field, and audits both levels", async () => {
    const host = await fx.enrollAgent({ name: 'cfd-override' });
    await applyNext(host.key);
    const fleetSettings = { protocol: 'http2', retries: 3 };
    await fx.admin('PUT', '/cloudflared', { image: FLEET_IMAGE, settings: fleetSettings, rollout: false });
    await applyNext(host.key);

    const put = await fx.admin('PUT', `/agents/${host.agentId}/cloudflared`, {
      image: HOST_IMAGE,
      settings: { protocol: 'quic', postQuantum: true },
    });
    expect(put.status).toBe(200);
    expect(put.body.updatedAgents).toEqual([host.agentId]);
    const merged = { protocol: 'quic', retries: 3, postQuantum: true };
    expect(await applyNext(host.key)).toMatchObject({
      type: 'update_tunnel',
      payload: { cloudflaredImage: HOST_IMAGE, settings: merged },
    });
    expect((await fx.admin('GET', `/agents/${host.agentId}`)).body.agent.cloudflaredConfig).toEqual({
      image: HOST_IMAGE,
      settings: merged,
      overridden: true,
    });

    // The fleet's protocol is overridden here: this host keeps its own, and gets the fleet's retries.
    await fx.admin('PUT', '/cloudflared', {
      image: FLEET_IMAGE,
      settings: { ...fleetSettings, protocol: 'auto', retries: 4 },
      rollout: false,
    });
    expect(await applyNext(host.key)).toMatchObject({
      type: 'update_tunnel',
      payload: { cloudflaredImage: HOST_IMAGE, settings: { ...merged, retries: 4 } },
    });

    const audit = await fx.admin('GET', '/audit?action=cloudflared.set');
    const targets = (audit.body.entries as { target: string; actor: string; action: string }[])
      .filter((entry) => entry.action === 'cloudflared.set')
      .map((entry) => `${entry.actor}:${entry.target}`);
    expect(targets).toEqual(expect.arrayContaining(['admin:fleet', `admin:${host.agentId}`]));
  });

  it('refuses post-quantum with http2, also when the two come from different levels', async () => {
    const host = await fx.enrollAgent({ name: 'cfd-http2' });
    await applyNext(host.key);
    const alone = await fx.admin('PUT', '/cloudflared', {
      settings: { protocol: 'http2', postQuantum: true },
    });
    expect(alone.status).toBe(400);
    expect(alone.body.error.message).toContain('postQuantum needs the quic protocol');

    await fx.admin('PUT', `/agents/${host.agentId}/cloudflared`, { settings: { protocol: 'http2' } });
    await applyNext(host.key);
    const before = (await fx.admin('GET', '/cloudflared')).body.config;
    const combined = await fx.admin('PUT', '/cloudflared', { settings: { postQuantum: true } });
    expect(combined.status).toBe(400);
    expect(combined.body.error.message).toContain(host.agentId);
    // Refused whole: the fleet default is as it was, and no agent was told anything.
    expect((await fx.admin('GET', '/cloudflared')).body.config).toEqual(before);
    expect(await nextCommand(host.key, 0)).toBeNull();

    const unknown = await fx.admin('PUT', '/cloudflared', { settings: { extraArgs: ['--anything'] } });
    expect(unknown.status).toBe(400);
  });

  it('lists which cloudflared version each agent runs, from its heartbeat', async () => {
    const host = await fx.enrollAgent({ name: 'cfd-version' });
    const connectorId = '0b6a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b';
    const beat = await fx.request('POST', AGENT_ROUTES.heartbeat, {
      token: host.key,
      body: {
        ...heartbeat(host.agentId, null),
        cloudflared: {
          state: 'running',
          ready: true,
          tunnelId: null,
          containerId: null,
          image: FLEET_IMAGE,
          version: '2024.1.0',
          connectorId,
          configVersion: 4,
        },
      },
    });
    expect(beat.status).toBe(200);
    const listed = (await fx.admin('GET', '/agents')).body.agents as { id: string; cloudflared: unknown }[];
    expect(listed.find((agent) => agent.id === host.agentId)?.cloudflared).toEqual({
      image: FLEET_IMAGE,
      version: '2024.1.0',
      connectorId,
      configVersion: 4,
    });
  });
});
