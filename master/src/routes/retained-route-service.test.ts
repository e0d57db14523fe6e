import {
  auditPageSchema,
  type Container,
  listRoutesResponseSchema,
  type RetainedRouteView,
} from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { useMasterFixture } from '../../test/master-test-fixture.js';

// No cron during the test: only the requested reconciles and the debounced syncs act.
const master = useMasterFixture({
  env: { SYNC_DEBOUNCE_MS: '50', RECONCILE_CRON: '0 0 1 1 *' },
  zone: 'example.com',
});

const GRACE_MS = 600_000; // GRACE_PERIOD_SECONDS' default

function wiki(hostname: string, state: Container['state']): Container {
  return {
    id: 'a'.repeat(64),
    name: 'wiki',
    labels: {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': hostname,
      'tunnelfleet.service': 'http://wiki:80',
      'tunnelfleet.cleanup': 'false',
    },
    state,
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

async function report(agent: { key: string; agentId: string }, sequence: number, containers: Container[]) {
  const answer = await master().reportSnapshot(agent, sequence, containers);
  expect(answer.body.status).toBe('accepted');
}

const cnames = (hostname: string) =>
  master()
    .emulator.dnsRecords('example.com')
    .filter((r) => r.name === hostname);

function ingressHostnames(tunnelId: string): string[] {
  const config = master().emulator.tunnelConfig(tunnelId)?.config as
    | { ingress?: { hostname?: string }[] }
    | undefined;
  return (config?.ingress ?? []).flatMap((rule) => (rule.hostname ? [rule.hostname] : []));
}

async function listed(query = '') {
  return listRoutesResponseSchema.parse((await master().admin('GET', `/routes${query}`)).body);
}

/** An agent whose cleanup=false route outlived its container: published, and retained. */
async function retainedRouteOf(name: string, hostname: string) {
  const agent = await master().enrollAgent({ name });
  await report(agent, 1, [wiki(hostname, 'running')]);
  await waitFor(() => cnames(hostname).length === 1, { description: `${hostname} published` });
  await report(agent, 2, [wiki(hostname, 'exited')]);
  master().advanceClock(GRACE_MS + 1_000);
  expect((await master().admin('POST', '/reconcile')).status).toBe(202);
  const retained = await waitFor(
    async () => (await listed(`?agentId=${agent.agentId}`)).retained[0] as RetainedRouteView | undefined,
    { description: `${hostname} retained after the grace period` },
  );
  return { agent, retained };
}

describe('retained routes through the admin API', () => {
  it('are listed beside the routes, and deleting one withdraws its record and rule', async () => {
    const hostname = 'kept.example.com';
    const { agent, retained } = await retainedRouteOf('keeper', hostname);
    expect(retained).toMatchObject({
      id: expect.stringMatching(/^rr_[0-9a-f]{16}$/),
      agentId: agent.agentId,
      containerName: 'wiki',
      hostname,
      service: 'http://wiki:80',
    });
    // Still published without its container: that is what retained means.
    expect(cnames(hostname)).toHaveLength(1);
    expect(ingressHostnames(retained.tunnelId)).toContain(hostname);
    expect((await listed(`?agentId=${agent.agentId}`)).routes).toEqual([]);
    expect((await listed('?status=retained')).retained.map((r) => r.id)).toContain(retained.id);
    expect((await listed('?status=active')).retained).toEqual([]);

    expect((await master().admin('DELETE', `/routes/retained/${retained.id}`)).status).toBe(204);
    expect((await listed()).retained.map((r) => r.id)).not.toContain(retained.id);
    await waitFor(
      () => cnames(hostname).length === 0 && !ingressHostnames(retained.tunnelId).includes(hostname),
      {
        description: `${hostname}'s record and rule withdrawn`,
      },
    );
    const again = await master().admin('DELETE', `/routes/retained/${retained.id}`);
    expect(again.status).toBe(404);
    expect(again.body.error.message).toContain(retained.id);
    expect((await master().admin('DELETE', '/routes/retained/not-an-id')).status).toBe(400);

    const audit = auditPageSchema.parse(
      (await master().admin('GET', '/audit?action=route.retained.delete')).body,
    );
    expect(audit.entries[0]).toMatchObject({
      actor: 'admin',
      target: retained.id,
      details: { hostname, agentId: agent.agentId, service: 'http://wiki:80' },
    });
  });

  it.each(['revoke', 'delete'] as const)(
    'end when their agent is %sd: gone from the API and from Cloudflare, and audited',
    async (action) => {
      const hostname = `left-${action}.example.com`;
      const { agent, retained } = await retainedRouteOf(`leaver-${action}`, hostname);
      const answer =
        action === 'revoke'
          ? await master().admin('POST', `/agents/${agent.agentId}/revoke`)
          : await master().admin('DELETE', `/agents/${agent.agentId}`);
      expect(answer.status).toBe(action === 'revoke' ? 200 : 204);

      expect((await listed()).retained.map((r) => r.id)).not.toContain(retained.id);
      await waitFor(() => cnames(hostname).length === 0, { description: `${hostname}'s record withdrawn` });
      const audit = auditPageSchema.parse(
        (await master().admin('GET', '/audit?action=routes.retained.release')).body,
      );
      expect(audit.entries[0]).toMatchObject({
        actor: 'system',
        target: agent.agentId,
        details: { routes: [expect.objectContaining({ id: retained.id, hostname })] },
      });
    },
  );
});
