import { listConflictsResponseSchema, listRoutesResponseSchema } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { useMasterFixture } from '../../test/master-test-fixture.js';
import { container, webLabels } from '../../test/reconciler-test-world.js';

const HOSTNAME = 'shared.example.com';

describe('handing a claimed hostname over to the route that waits', () => {
  const master = useMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50' }, zone: 'example.com' });

  const cname = () =>
    master()
      .emulator.dnsRecords('example.com')
      .find((r) => r.name === HOSTNAME)?.content;
  const tunnelOf = async (agentId: string) =>
    (await master().admin('GET', `/agents/${agentId}`)).body.agent.tunnel.id as string;
  const routeOf = async (agentId: string) =>
    listRoutesResponseSchema.parse((await master().admin('GET', `/routes?agentId=${agentId}`)).body)
      .routes[0]!;

  it('publishes the waiting route instead, and the former holder waits; both audited', async () => {
    const first = await master().enrollAgent({ name: 'first' });
    await master().reportSnapshot(first, 1, [container('web', webLabels(HOSTNAME))]);
    const firstTunnel = await tunnelOf(first.agentId);
    await waitFor(() => cname() === `${firstTunnel}.cfargotunnel.com`, {
      description: "the first agent's CNAME",
    });
    const second = await master().enrollAgent({ name: 'second' });
    await master().reportSnapshot(second, 1, [container('web', webLabels(HOSTNAME))]);
    const conflict = await waitFor(
      async () =>
        listConflictsResponseSchema
          .parse((await master().admin('GET', '/conflicts')).body)
          .conflicts.find((c) => c.kind === 'hostname_claimed' && c.hostname === HOSTNAME),
      { description: 'the claim conflict' },
    );
    expect((await routeOf(second.agentId)).status).toBe('conflict');

    const answer = await master().admin('POST', `/conflicts/${conflict.id}/hand-over`);
    expect(answer.status).toBe(200);
    expect((await routeOf(first.agentId)).status).toBe('conflict');
    const secondTunnel = await tunnelOf(second.agentId);
    await waitFor(() => cname() === `${secondTunnel}.cfargotunnel.com`, {
      description: "the CNAME moved to the second agent's tunnel",
    });
    await waitFor(async () => (await routeOf(second.agentId)).status === 'active', {
      description: 'the second route active',
    });
    const audit = await master().admin('GET', '/audit?action=conflict.hand_over');
    expect(audit.body.entries[0]).toMatchObject({ actor: 'admin', target: HOSTNAME });
  });

  it('refuses a conflict that is not an open claim, and an unknown one', async () => {
    expect((await master().admin('POST', '/conflicts/999999/hand-over')).status).toBe(404);
    const resolved = listConflictsResponseSchema
      .parse((await master().admin('GET', '/conflicts?includeResolved=true')).body)
      .conflicts.find((c) => c.resolvedAt !== null);
    expect(resolved).toBeDefined();
    expect((await master().admin('POST', `/conflicts/${resolved!.id}/hand-over`)).status).toBe(409);
  });
});
