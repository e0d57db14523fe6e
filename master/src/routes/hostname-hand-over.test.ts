import { listConflictsResponseSchema, listRoutesResponseSchema } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';
import { container, webLabels } from '../../test/reconciler-test-world.js';

const HOSTNAME = 'shared.example.com';

describe('handing a claimed hostname over to the route that waits', () => {
  let fx: MasterFixture;
  beforeAll(async () => {
    fx = await startMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50' } });
    fx.emulator.createZone('example.com', fx.accountId);
  });
  afterAll(async () => {
    await fx?.close();
  });

  const cname = () => fx.emulator.dnsRecords('example.com').find((r) => r.name === HOSTNAME)?.content;
  const tunnelOf = async (agentId: string) =>
    (await fx.admin('GET', `/agents/${agentId}`)).body.agent.tunnel.id as string;
  const routeOf = async (agentId: string) =>
    listRoutesResponseSchema.parse((await fx.admin('GET', `/routes?agentId=${agentId}`)).body).routes[0]!;

  it('publishes the waiting route instead, and the former holder waits; both audited', async () => {
    const first = await fx.enrollAgent({ name: 'first' });
    await fx.reportSnapshot(first, 1, [container('web', webLabels(HOSTNAME))]);
    const firstTunnel = await tunnelOf(first.agentId);
    await waitFor(() => cname() === `${firstTunnel}.cfargotunnel.com`, {
      description: "the first agent's CNAME",
    });
    const second = await fx.enrollAgent({ name: 'second' });
    await fx.reportSnapshot(second, 1, [container('web', webLabels(HOSTNAME))]);
    const conflict = await waitFor(
      async () =>
        listConflictsResponseSchema
          .parse((await fx.admin('GET', '/conflicts')).body)
          .conflicts.find((c) => c.kind === 'hostname_claimed' && c.hostname === HOSTNAME),
      { description: 'the claim conflict' },
    );
    expect((await routeOf(second.agentId)).status).toBe('conflict');

    const answer = await fx.admin('POST', `/conflicts/${conflict.id}/hand-over`);
    expect(answer.status).toBe(200);
    expect((await routeOf(first.agentId)).status).toBe('conflict');
    const secondTunnel = await tunnelOf(second.agentId);
    await waitFor(() => cname() === `${secondTunnel}.cfargotunnel.com`, {
      description: "the CNAME moved to the second agent's tunnel",
    });
    await waitFor(async () => (await routeOf(second.agentId)).status === 'active', {
      description: 'the second route active',
    });
    const audit = await fx.admin('GET', '/audit?action=conflict.hand_over');
    expect(audit.body.entries[0]).toMatchObject({ actor: 'admin', target: HOSTNAME });
  });

  it('refuses a conflict that is not an open claim, and an unknown one', async () => {
    expect((await fx.admin('POST', '/conflicts/999999/hand-over')).status).toBe(404);
    const resolved = listConflictsResponseSchema
      .parse((await fx.admin('GET', '/conflicts?includeResolved=true')).body)
      .conflicts.find((c) => c.resolvedAt !== null);
    expect(resolved).toBeDefined();
    expect((await fx.admin('POST', `/conflicts/${resolved!.id}/hand-over`)).status).toBe(409);
  });
});
