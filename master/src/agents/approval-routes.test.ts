import { type Container, listRoutesResponseSchema } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MasterFixture, startMasterFixture } from '../../test/master-test-fixture.js';

const HOSTNAME = 'pending.example.com';

describe('approving an agent through the admin API', () => {
  let fx: MasterFixture;
  beforeAll(async () => {
    // A cron that does not fire during the test: only the approval can bring the route up.
    fx = await startMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50', RECONCILE_CRON: '0 0 1 1 *' } });
    fx.emulator.createZone('example.com', fx.accountId);
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('publishes the routes it reported while pending, without a reconcile', async () => {
    const agent = await fx.enrollAgent({ name: 'pending-host', autoApprove: false });
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
    const report = await fx.reportSnapshot(agent, 1, [container]);
    expect(report.body.status).toBe('accepted');
    const hasCname = () => fx.emulator.dnsRecords('example.com').some((r) => r.name === HOSTNAME);
    expect(hasCname()).toBe(false);

    expect((await fx.admin('POST', `/agents/${agent.agentId}/approve`)).status).toBe(200);
    const route = await waitFor(
      async () => {
        const { routes } = listRoutesResponseSchema.parse(
          (await fx.admin('GET', `/routes?hostname=${HOSTNAME}`)).body,
        );
        return routes[0]?.status === 'active' && hasCname() ? routes[0] : undefined;
      },
      { description: `${HOSTNAME} published after the approval` },
    );
    expect(route.agentId).toBe(agent.agentId);
  });
});
