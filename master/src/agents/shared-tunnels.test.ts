import { createHash, randomUUID } from 'node:crypto';
import type { Command, Container } from '@tunnelfleet/common';
import { decodeTunnelToken, waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { useMasterFixture } from '../../test/master-test-fixture.js';

const master = useMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50' }, zone: 'example.com' });

type Agent = { key: string; agentId: string };

const applyNext = (agent: Agent): Promise<Command> => master().applyNext(agent.key);

async function enroll(name: string): Promise<Agent> {
  const agent = await master().enrollAgent({ name });
  expect((await applyNext(agent)).type).toBe('start_tunnel');
  return agent;
}

function container(name: string, labels: Record<string, string>): Container {
  return {
    id: createHash('sha256').update(name).digest('hex'),
    name,
    labels: { 'tunnelfleet.enable': 'true', ...labels },
    state: 'running',
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

const replica = (hostname: string, extra: Record<string, string> = {}) =>
  container('web', {
    'tunnelfleet.hostname': hostname,
    'tunnelfleet.service': 'http://web:80',
    'tunnelfleet.tunnel': 'web-pool',
    'tunnelfleet.access.emails': 'ops@example.com',
    ...extra,
  });

const rulesFor = (tunnelId: string, hostname: string) =>
  (
    (
      master().emulator.tunnelConfig(tunnelId)?.config as
        | { ingress?: Array<{ hostname?: string }> }
        | undefined
    )?.ingress ?? []
  ).filter((rule) => rule.hostname === hostname);
const recordsFor = (hostname: string) =>
  master()
    .emulator.dnsRecords('example.com')
    .filter((r) => r.name === hostname);
const appsFor = (hostname: string) =>
  master()
    .emulator.accessApps()
    .filter((app) => (app as { domain?: string }).domain === hostname);

async function routeOf(agentId: string, hostname: string) {
  const answer = await master().admin('GET', `/routes?agentId=${agentId}`);
  return (
    answer.body.routes as Array<{ hostname: string; status: string; statusMessage: string | null }>
  ).find((route) => route.hostname === hostname);
}

/** Everything Cloudflare holds for the shared tunnel and its hostnames. */
function cloudState(tunnelId: string): string {
  return JSON.stringify({
    config: master().emulator.tunnelConfig(tunnelId),
    records: master()
      .emulator.dnsRecords('example.com')
      .filter((r) => String(r.name).startsWith('pool')),
    apps: master()
      .emulator.accessApps()
      .filter((app) => String((app as { domain?: string }).domain).startsWith('pool')),
  });
}

describe('shared tunnels', () => {
  it('serves one hostname from two members, refuses it to a non-member, stops connectors on removal and deletion', async () => {
    const a = await enroll('pool-a');
    const b = await enroll('pool-b');
    const outsider = await enroll('outsider');

    const created = await master().admin('POST', '/tunnels', {
      name: 'web-pool',
      members: [a.agentId, b.agentId],
    });
    expect(created.status).toBe(201);
    const tunnelId = created.body.tunnel.tunnelId as string;
    expect(created.body.tunnel.members.map((m: { agentId: string }) => m.agentId).sort()).toEqual(
      [a.agentId, b.agentId].sort(),
    );
    expect(await master().liveTunnels('web-pool')).toEqual([expect.objectContaining({ id: tunnelId })]);

    // Each member is sent a connector for it, with a token of that tunnel.
    for (const member of [a, b]) {
      const join = await applyNext(member);
      expect(join).toMatchObject({
        type: 'join_shared_tunnel',
        payload: { tunnelId, tunnelName: 'web-pool' },
      });
      expect(
        decodeTunnelToken((join as Extract<Command, { type: 'join_shared_tunnel' }>).payload.token)?.t,
      ).toBe(tunnelId);
    }

    // The same service on both hosts: one rule, one record, one app; both routes active.
    const hostname = 'pool.example.com';
    await master().reportSnapshot(a, 1, [replica(hostname)]);
    await master().reportSnapshot(b, 1, [replica(hostname)]);
    await waitFor(
      () =>
        rulesFor(tunnelId, hostname).length === 1 &&
        recordsFor(hostname).length === 1 &&
        appsFor(hostname).length === 1,
      { description: 'the shared hostname published on the shared tunnel' },
    );
    expect(recordsFor(hostname)[0]?.content).toBe(`${tunnelId}.cfargotunnel.com`);
    expect((await routeOf(a.agentId, hostname))?.status).toBe('active');
    expect((await routeOf(b.agentId, hostname))?.status).toBe('active');

    // A non-member names the shared tunnel, for the same hostname (a bypass on a path) and another.
    const before = cloudState(tunnelId);
    await master().reportSnapshot(outsider, 1, [
      container('intruder', {
        'tunnelfleet.hostname': hostname,
        'tunnelfleet.path': '^/admin',
        'tunnelfleet.service': 'http://intruder:80',
        'tunnelfleet.tunnel': 'web-pool',
        'tunnelfleet.access.policy': 'bypass',
      }),
      container('side', {
        'tunnelfleet.hostname': 'pool-side.example.com',
        'tunnelfleet.service': 'http://side:80',
        'tunnelfleet.tunnel': 'web-pool',
      }),
      // An honest route on its own tunnel: once its record exists, the zone's sync has run.
      container('barrier', {
        'tunnelfleet.hostname': 'outsider-barrier.example.com',
        'tunnelfleet.service': 'http://barrier:80',
      }),
    ]);
    await waitFor(() => recordsFor('outsider-barrier.example.com').length === 1, {
      description: "the outsider's own route published",
    });
    const refused = await routeOf(outsider.agentId, hostname);
    expect(refused?.status).toBe('invalid');
    expect(refused?.statusMessage).toContain('is a shared tunnel this agent is not a member of');
    expect((await routeOf(outsider.agentId, 'pool-side.example.com'))?.status).toBe('invalid');
    expect(cloudState(tunnelId)).toBe(before);

    // Removing a member stops its connector and invalidates its route; the other member still serves.
    const removed = await master().admin('DELETE', `/tunnels/web-pool/members/${a.agentId}`);
    expect(removed.status).toBe(200);
    expect(await applyNext(a)).toMatchObject({ type: 'leave_shared_tunnel', payload: { tunnelId } });
    expect((await routeOf(a.agentId, hostname))?.status).toBe('invalid');
    await waitFor(async () => (await routeOf(b.agentId, hostname))?.status === 'active', {
      description: "member B's route holds the hostname",
    });
    expect(rulesFor(tunnelId, hostname)).toHaveLength(1);

    // Deleting the tunnel stops every connector and withdraws its record, rule and app.
    const deleted = await master().admin('DELETE', '/tunnels/web-pool');
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ name: 'web-pool', tunnelId, stoppedMembers: [b.agentId] });
    expect(await applyNext(b)).toMatchObject({ type: 'leave_shared_tunnel', payload: { tunnelId } });
    expect(await master().liveTunnels('web-pool')).toEqual([]);
    await waitFor(() => recordsFor(hostname).length === 0 && appsFor(hostname).length === 0, {
      description: "the deleted tunnel's record and Access app withdrawn",
    });
    expect((await routeOf(b.agentId, hostname))?.status).toBe('invalid');
    expect((await master().admin('GET', '/tunnels/web-pool')).status).toBe(404);

    const audit = await master().admin('GET', '/audit?target=web-pool');
    expect((audit.body.entries as { action: string }[]).map((e) => e.action).sort()).toEqual([
      'tunnel.shared.create',
      'tunnel.shared.delete',
      'tunnel.shared.member.remove',
    ]);
  });

  it('keeps a replica asking for another rule out, as a conflict', async () => {
    const a = await enroll('rule-a');
    const b = await enroll('rule-b');
    const created = await master().admin('POST', '/tunnels', {
      name: 'rules',
      members: [a.agentId, b.agentId],
    });
    const tunnelId = created.body.tunnel.tunnelId as string;
    await applyNext(a);
    await applyNext(b);
    const hostname = 'pool-rules.example.com';
    const labels = { 'tunnelfleet.tunnel': 'rules', 'tunnelfleet.access.emails': 'ops@example.com' };
    await master().reportSnapshot(a, 1, [replica(hostname, labels)]);
    await waitFor(() => rulesFor(tunnelId, hostname).length === 1 && recordsFor(hostname).length === 1, {
      description: "member A's rule and record",
    });
    const before = cloudState(tunnelId);
    await master().reportSnapshot(b, 1, [
      replica(hostname, { ...labels, 'tunnelfleet.service': 'http://other:80' }),
    ]);
    await waitFor(async () => (await routeOf(b.agentId, hostname))?.status === 'conflict', {
      description: "member B's different rule in conflict",
    });
    expect((await routeOf(b.agentId, hostname))?.statusMessage).toContain('with another rule');
    expect(cloudState(tunnelId)).toBe(before);
  });

  it("reads Labelgate's named tunnels the same way: a member's is served, a non-member's changes nothing", async () => {
    const member = await enroll('lg-member');
    const outsider = await enroll('lg-outsider');
    const created = await master().admin('POST', '/tunnels', { name: 'lg-pool', members: [member.agentId] });
    const tunnelId = created.body.tunnel.tunnelId as string;
    await applyNext(member);
    const labelgate = (name: string, hostname: string) =>
      container(name, {
        [`labelgate.tunnel.${name}.hostname`]: hostname,
        [`labelgate.tunnel.${name}.service`]: `http://${name}:80`,
        [`labelgate.tunnel.${name}.tunnel`]: 'lg-pool',
      });
    await master().reportSnapshot(member, 1, [labelgate('web', 'pool-lg.example.com')]);
    await waitFor(
      () =>
        rulesFor(tunnelId, 'pool-lg.example.com').length === 1 &&
        recordsFor('pool-lg.example.com').length === 1,
      { description: "the member's Labelgate route on the shared tunnel" },
    );
    const before = cloudState(tunnelId);
    await master().reportSnapshot(outsider, 1, [
      labelgate('web', 'pool-lg.example.com'),
      labelgate('side', 'pool-lg-side.example.com'),
      container('barrier', {
        'tunnelfleet.hostname': 'lg-barrier.example.com',
        'tunnelfleet.service': 'http://barrier:80',
      }),
    ]);
    await waitFor(() => recordsFor('lg-barrier.example.com').length === 1, {
      description: "the outsider's own route published",
    });
    for (const hostname of ['pool-lg.example.com', 'pool-lg-side.example.com']) {
      const refused = await routeOf(outsider.agentId, hostname);
      expect(refused?.status).toBe('invalid');
      expect(refused?.statusMessage).toContain('is a shared tunnel this agent is not a member of');
    }
    expect(cloudState(tunnelId)).toBe(before);
  });

  it('refuses a 26th connector, bad names and unknown agents', async () => {
    const members: Agent[] = [];
    for (let i = 0; i < 25; i++) members.push(await master().enrollAgent({ name: `many-${i}` }));
    const full = await master().admin('POST', '/tunnels', {
      name: 'many',
      members: members.map((m) => m.agentId),
    });
    expect(full.status).toBe(201);
    const extra = await master().enrollAgent({ name: 'many-25' });
    const refused = await master().admin('POST', '/tunnels/many/members', { agentId: extra.agentId });
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain('at most 25 connectors');
    const tooMany = await master().admin('POST', '/tunnels', {
      name: 'too-many',
      members: [...members.map((m) => m.agentId), extra.agentId],
    });
    expect(tooMany.status).toBe(400);
    expect(await master().liveTunnels('too-many')).toEqual([]);

    for (const name of [`tunnelfleet-${extra.agentId}`, 'default', '../x', '']) {
      expect((await master().admin('POST', '/tunnels', { name, members: [] })).status).toBe(400);
    }
    const unknown = await master().admin('POST', '/tunnels', {
      name: 'ghosts',
      members: ['ag_0000000000000000'],
    });
    expect(unknown.status).toBe(404);
    expect(await master().liveTunnels('ghosts')).toEqual([]);
    expect((await master().admin('POST', '/tunnels', { name: 'many', members: [] })).status).toBe(409);
    // A tunnel of that name that Tunnelfleet did not create is never adopted.
    const foreign = master().emulator.seedTunnel(master().accountId, 'foreign-pool');
    const adopted = await master().admin('POST', '/tunnels', { name: 'foreign-pool', members: [] });
    expect(adopted.status).toBe(409);
    expect(adopted.body.error.message).toContain('did not create');
    expect(await master().liveTunnels('foreign-pool')).toEqual([expect.objectContaining({ id: foreign.id })]);
  });

  it('gives the tunnel a new secret when a member is revoked, and the others the new token', async () => {
    const a = await enroll('revoked-member');
    const b = await enroll('kept-member');
    await master().admin('POST', '/tunnels', { name: 'leaky', members: [a.agentId, b.agentId] });
    await applyNext(a);
    const first = (await applyNext(b)) as Extract<Command, { type: 'join_shared_tunnel' }>;

    expect((await master().admin('POST', `/agents/${a.agentId}/revoke`)).status).toBe(200);
    const renewed = (await applyNext(b)) as Extract<Command, { type: 'join_shared_tunnel' }>;
    expect(renewed.type).toBe('join_shared_tunnel');
    expect(decodeTunnelToken(renewed.payload.token)?.s).not.toBe(decodeTunnelToken(first.payload.token)?.s);
    const view = await master().admin('GET', '/tunnels/leaky');
    expect(view.body.tunnel.members.map((m: { agentId: string }) => m.agentId)).toEqual([b.agentId]);

    // An operator's rotation does the same.
    expect((await master().admin('POST', '/tunnels/leaky/rotate-secret')).status).toBe(200);
    const again = (await applyNext(b)) as Extract<Command, { type: 'join_shared_tunnel' }>;
    expect(again.type).toBe('join_shared_tunnel');
    expect(decodeTunnelToken(again.payload.token)?.s).not.toBe(decodeTunnelToken(renewed.payload.token)?.s);
    const audit = await master().admin('GET', '/audit?target=leaky');
    expect(
      (audit.body.entries as { action: string; actor: string }[])
        .filter((e) => e.action === 'tunnel.shared.rotate_secret')
        .map((e) => e.actor)
        .sort(),
    ).toEqual(['admin', 'system']);
  });

  it("shows each member's connector as its heartbeat reports it, and tells an agent to leave a tunnel it is no member of", async () => {
    const agent = await enroll('reporting-member');
    const created = await master().admin('POST', '/tunnels', { name: 'seen', members: [agent.agentId] });
    const tunnelId = created.body.tunnel.tunnelId as string;
    expect(created.body.tunnel.members[0].connector).toBeNull();
    await applyNext(agent);
    const stray = randomUUID();
    const connectorId = randomUUID();
    const connector = (id: string) => ({
      state: 'running',
      ready: true,
      tunnelId: id,
      containerId: null,
      connectorId,
    });
    const beat = await master().heartbeat(agent, { sharedTunnels: [connector(tunnelId), connector(stray)] });
    expect(beat.status).toBe(200);
    expect(await applyNext(agent)).toMatchObject({
      type: 'leave_shared_tunnel',
      payload: { tunnelId: stray },
    });
    const view = await master().admin('GET', '/tunnels/seen');
    expect(view.body.tunnel.members[0].connector).toEqual({ state: 'running', ready: true, connectorId });
  });
});
