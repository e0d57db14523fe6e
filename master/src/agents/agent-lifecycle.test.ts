import { AGENT_ROUTES, type Command, commandAckPath } from '@tunnelfleet/common';
import { decodeTunnelToken, waitFor } from '@tunnelfleet/test';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, registerBody, startMasterFixture } from '../../test/master-test-fixture.js';
import { createRedisKeys } from '../redis/index.js';

/** Not the default prefix, so the test sees that `REDIS_KEY_PREFIX` reaches every key. */
const keys = createRedisKeys('lifecycle');
let fx: MasterFixture;
let redis: Redis;
/** What the routes engine and reconciler would have been told. */
const hookCalls: string[] = [];
beforeAll(async () => {
  fx = await startMasterFixture({
    reportIntervalSeconds: 5,
    env: { REDIS_KEY_PREFIX: keys.prefix },
    hooks: {
      onContainersChanged: (agentId) => hookCalls.push(`changed:${agentId}`),
      onAgentRevoked: (agentId) => hookCalls.push(`revoked:${agentId}`),
      onAgentApproved: (agentId) => hookCalls.push(`approved:${agentId}`),
      requestReconcile: () => {
        hookCalls.push('reconcile');
        return { jobId: 'full-1' };
      },
    },
  });
  redis = new Redis(fx.redis.url);
});
afterAll(async () => {
  redis?.disconnect();
  await fx?.close();
});

function heartbeat(agentId: string) {
  return {
    agentId,
    uptimeSeconds: 10,
    cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
    lastAppliedCommandVersion: null,
    dockerReachable: true,
  };
}

async function nextCommand(key: string, waitSeconds = 5): Promise<Command | null> {
  const answer = await fx.request('GET', `${AGENT_ROUTES.commandsNext}?waitSeconds=${waitSeconds}`, {
    token: key,
  });
  expect(answer.status).toBe(200);
  return answer.body.command;
}

describe('agent lifecycle', () => {
  it('register → automatic approval → tunnel at Cloudflare → start_tunnel by long-poll → ack', async () => {
    const agent = await fx.enrollAgent({ name: 'host-a' });
    expect(agent.status).toBe('approved');
    expect(agent.agentId).toMatch(/^ag_[0-9a-f]{16}$/);

    const tunnels = await fx.liveTunnels(`tunnelfleet-${agent.agentId}`);
    expect(tunnels).toHaveLength(1);

    const command = await nextCommand(agent.key);
    expect(command?.type).toBe('start_tunnel');
    if (command?.type !== 'start_tunnel') return;
    expect(command.payload.tunnelId).toBe(tunnels[0]!.id);
    expect(command.payload.tunnelName).toBe(`tunnelfleet-${agent.agentId}`);
    expect(decodeTunnelToken(command.payload.token)?.t).toBe(tunnels[0]!.id);

    const ack = await fx.request('POST', commandAckPath(command.id), {
      token: agent.key,
      body: { commandId: command.id, version: command.version, status: 'ok', result: { action: 'started' } },
    });
    expect(ack).toMatchObject({ status: 200, body: { ok: true } });
    // Acknowledged: nothing more to deliver.
    expect(await nextCommand(agent.key, 0)).toBeNull();

    // Registering again (agent restart) keeps the id and the one tunnel.
    const again = await fx.request('POST', AGENT_ROUTES.register, {
      token: agent.key,
      body: registerBody({ name: 'host-a', agentId: agent.agentId }),
    });
    expect(again.body).toMatchObject({ agentId: agent.agentId, status: 'approved' });
    expect(await fx.liveTunnels(`tunnelfleet-${agent.agentId}`)).toHaveLength(1);
  });

  it('delivers start_tunnel to a waiting long-poll as soon as an operator approves', async () => {
    const agent = await fx.enrollAgent({ name: 'host-b', autoApprove: false });
    expect(agent.status).toBe('pending');
    expect(await fx.liveTunnels(`tunnelfleet-${agent.agentId}`)).toHaveLength(0);
    expect(await nextCommand(agent.key, 0)).toBeNull();

    // The agent is already waiting when the operator approves it.
    const waiting = nextCommand(agent.key, 30);
    await expect.poll(() => fx.master.openLongPolls()).toBe(1);
    const approved = await fx.admin('POST', `/agents/${agent.agentId}/approve`);
    expect(approved.body.agent.status).toBe('approved');
    // The routes engine is told, so routes reported while pending are carried now.
    expect(hookCalls).toContain(`approved:${agent.agentId}`);
    expect((await waiting)?.type).toBe('start_tunnel');
    expect(await fx.liveTunnels(`tunnelfleet-${agent.agentId}`)).toHaveLength(1);
  });

  it('records heartbeats in Redis and flags an agent offline after three silent intervals', async () => {
    const agent = await fx.enrollAgent({ name: 'host-c' });
    const beat = await fx.request('POST', AGENT_ROUTES.heartbeat, {
      token: agent.key,
      body: heartbeat(agent.agentId),
    });
    expect(beat).toMatchObject({
      status: 200,
      body: { status: 'approved', reportIntervalSeconds: 5, snapshotRequested: true },
    });
    expect(Number(await redis.zscore(keys.heartbeats, agent.agentId))).toBeGreaterThan(0);
    expect(JSON.parse((await redis.hget(keys.agentState, agent.agentId))!)).toMatchObject({
      cloudflared: { state: 'running' },
      dockerReachable: true,
    });

    const online = async () => (await fx.admin('GET', `/agents/${agent.agentId}`)).body.agent.online;
    expect(await online()).toBe(true);
    fx.advanceClock(2 * 5_000);
    expect(await fx.master.agents.markOfflineAgents()).not.toContain(agent.agentId);
    expect(await online()).toBe(true);

    fx.advanceClock(5_000 + 1);
    expect(await fx.master.agents.markOfflineAgents()).toContain(agent.agentId);
    expect(await online()).toBe(false);
    // Reported once per transition; the agent keeps its status and routes.
    expect(await fx.master.agents.markOfflineAgents()).not.toContain(agent.agentId);
    expect((await fx.admin('GET', `/agents/${agent.agentId}`)).body.agent.status).toBe('approved');
    const audit = await fx.admin('GET', `/audit?action=agent.offline&target=${agent.agentId}`);
    expect(audit.body.entries).toHaveLength(1);

    await fx.request('POST', AGENT_ROUTES.heartbeat, { token: agent.key, body: heartbeat(agent.agentId) });
    await waitFor(online, { description: 'agent back online' });
    // Commands, heartbeats and the cf-sync queue: all under the configured prefix.
    expect((await redis.keys('*')).filter((key) => !key.startsWith(`${keys.prefix}:`))).toEqual([]);
  });

  it('persists reports, skips stale sequences and unchanged snapshots, and marks missing containers removed', async () => {
    const agent = await fx.enrollAgent({ name: 'host-d' });
    const container = (id: string, hostname: string) => ({
      id: id.repeat(64).slice(0, 64),
      name: `web-${id}`,
      labels: { 'tunnelfleet.enable': 'true', 'tunnelfleet.hostname': hostname },
      state: 'running',
      networks: {},
      exposedPorts: [{ port: 80, protocol: 'tcp' }],
    });
    const snapshot = (sequence: number, containers: unknown[], fingerprint = `sha256:${'0'.repeat(64)}`) => ({
      agentId: agent.agentId,
      sequence,
      observedAt: new Date().toISOString(),
      kind: 'snapshot',
      fingerprint,
      containers,
    });
    const report = (body: unknown) => fx.request('POST', AGENT_ROUTES.reports, { token: agent.key, body });

    expect(
      (await report(snapshot(10, [container('a', 'a.example.com'), container('b', 'b.example.com')]))).body,
    ).toEqual({
      status: 'accepted',
      lastSequence: 10,
    });
    expect((await report(snapshot(9, []))).body).toEqual({ status: 'stale', lastSequence: 10 });
    expect(
      (await report(snapshot(11, [container('b', 'b.example.com'), container('a', 'a.example.com')]))).body,
    ).toEqual({
      status: 'unchanged',
      lastSequence: 11,
    });
    expect((await report(snapshot(12, [container('a', 'a.example.com')]))).body.status).toBe('accepted');
    // The routes engine hears of each applied report, not of stale or unchanged ones.
    expect(hookCalls.filter((c) => c === `changed:${agent.agentId}`)).toHaveLength(2);

    const detail = await fx.admin('GET', `/agents/${agent.agentId}`);
    const states = Object.fromEntries(
      detail.body.agent.containers.map((c: { name: string; state: string }) => [c.name, c.state]),
    );
    expect(states).toEqual({ 'web-a': 'running', 'web-b': 'removed' });

    // Having reported, the agent is no longer asked for a snapshot.
    const beat = await fx.request('POST', AGENT_ROUTES.heartbeat, {
      token: agent.key,
      body: heartbeat(agent.agentId),
    });
    expect(beat.body.snapshotRequested).toBe(false);
  });

  it('tells the reconciler about revocations and operator reconcile requests', async () => {
    const agent = await fx.enrollAgent({ name: 'host-e' });
    await fx.admin('POST', `/agents/${agent.agentId}/revoke`);
    expect(hookCalls).toContain(`revoked:${agent.agentId}`);
    expect((await fx.admin('POST', '/reconcile')).body).toEqual({ accepted: true, jobId: 'full-1' });
    expect(hookCalls).toContain('reconcile');
  });
});
