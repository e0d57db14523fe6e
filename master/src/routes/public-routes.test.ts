import { createHash } from 'node:crypto';
import {
  type Container,
  listRoutesResponseSchema,
  publicRoutesResponseSchema,
  type RouteView,
} from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { useMasterFixture } from '../../test/master-test-fixture.js';

function container(name: string, labels: Record<string, string>): Container {
  return {
    id: createHash('sha256').update(name).digest('hex'),
    name,
    labels: {
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': `${name}.example.com`,
      'tunnelfleet.service': `http://${name}:80`,
      ...labels,
    },
    state: 'running',
    networks: {},
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

describe('REQUIRE_ACCESS and the public-routes report', () => {
  const master = useMasterFixture({
    env: { REQUIRE_ACCESS: 'true', SYNC_DEBOUNCE_MS: '50' },
    zone: 'example.com',
  });

  async function routes(): Promise<Map<string, RouteView>> {
    const answer = listRoutesResponseSchema.parse((await master().admin('GET', '/routes')).body);
    return new Map(answer.routes.map((route) => [route.hostname ?? route.routeKey, route]));
  }
  const cname = (hostname: string) =>
    master()
      .emulator.dnsRecords('example.com')
      .filter((r) => r.name === hostname);

  it('refuses a route with neither Access nor access.public=true, and reports the ones marked public', async () => {
    const agent = await master().enrollAgent({ name: 'guarded-host' });
    const report = await master().reportSnapshot(agent, 1, [
      container('forgotten', {}),
      container('open', { 'tunnelfleet.access.public': 'true' }),
      container('staff', { 'tunnelfleet.access.emails': 'a@example.com' }),
    ]);
    expect(report.body.status).toBe('accepted');

    const settled = await waitFor(
      async () => {
        const all = await routes();
        return all.get('open.example.com')?.status === 'active' &&
          all.get('staff.example.com')?.status === 'active' &&
          cname('open.example.com').length === 1 &&
          cname('staff.example.com').length === 1
          ? all
          : undefined;
      },
      { description: 'the public and the protected route published' },
    );
    const forgotten = settled.get('forgotten.example.com')!;
    expect(forgotten.status).toBe('invalid');
    expect(forgotten.statusMessage).toBe(
      'tunnelfleet.hostname: "forgotten.example.com" has no Access and REQUIRE_ACCESS is on: add ' +
        'access.* labels, or set tunnelfleet.access.public=true to publish it without Access on purpose',
    );
    expect(cname('forgotten.example.com')).toEqual([]);

    const answer = await master().admin('GET', '/routes/public');
    expect(answer.status).toBe(200);
    expect(publicRoutesResponseSchema.parse(answer.body)).toEqual({
      requireAccess: true,
      routes: [
        {
          hostname: 'open.example.com',
          path: '',
          service: 'http://open:80',
          agentId: agent.agentId,
          containerName: 'open',
          status: 'active',
          markedPublic: true,
        },
      ],
    });
  });
});

describe('the public-routes report without REQUIRE_ACCESS', () => {
  const master = useMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50' }, zone: 'example.com' });

  it('lists a route without access.* labels as published without Access, not marked public', async () => {
    const agent = await master().enrollAgent({ name: 'open-host' });
    await master().reportSnapshot(agent, 1, [
      container('forgotten', {}),
      container('staff', { 'tunnelfleet.access.emails': 'a@example.com' }),
    ]);
    const report = await waitFor(
      async () => {
        const body = publicRoutesResponseSchema.parse((await master().admin('GET', '/routes/public')).body);
        return body.routes.length > 0 ? body : undefined;
      },
      { description: 'the unprotected route in the report' },
    );
    expect(report.requireAccess).toBe(false);
    expect(report.routes.map((r) => [r.hostname, r.status, r.markedPublic])).toEqual([
      ['forgotten.example.com', 'active', false],
    ]);
  });
});
