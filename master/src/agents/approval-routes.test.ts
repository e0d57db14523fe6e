import { type Container, listRoutesResponseSchema } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { useMasterFixture } from '../../test/master-test-fixture.js';

const HOSTNAME = 'pending.example.com';

describe('approving an agent through the admin API', () => {
  // A cron that does not fire during the test: only the approval can bring the route up.
  const master = useMasterFixture({
    env: { SYNC_DEBOUNCE_MS: '50', RECONCILE_CRON: '0 0 1 1 *' },
    zone: 'example.com',
  });

  it('publishes the routes it reported while pending, without a reconcile', async () => {
    const agent = await master().enrollAgent({ name: 'pending-host', autoApprove: false });
    expect(agent.status).toBe('pending');
    const container: Container = {
      id: 'e'.repeat(64),
      name: 'web',
      labels: {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': HOSTNAME,
        'tunnelfleet.service': 'http://web:80',
      },
      state: 'running',
      networks: {},
      exposedPorts: [{ port: 80, protocol: 'tcp' }],
    };
    const report = await master().reportSnapshot(agent, 1, [container]);
    expect(report.body.status).toBe('accepted');
    const hasCname = () =>
      master()
        .emulator.dnsRecords('example.com')
        .some((r) => r.name === HOSTNAME);
    expect(hasCname()).toBe(false);

    expect((await master().admin('POST', `/agents/${agent.agentId}/approve`)).status).toBe(200);
    const route = await waitFor(
      async () => {
        const { routes } = listRoutesResponseSchema.parse(
          (await master().admin('GET', `/routes?hostname=${HOSTNAME}`)).body,
        );
        return routes[0]?.status === 'active' && hasCname() ? routes[0] : undefined;
      },
      { description: `${HOSTNAME} published after the approval` },
    );
    expect(route.agentId).toBe(agent.agentId);
  });
});
