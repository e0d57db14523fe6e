import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import { publishLabels, routesOf, uniqueHostname, useFleet, waitPublished } from './support.js';

const fleet = useFleet({ secondEngine: 'docker2' });

describe('publishing labelled containers on two hosts', { timeout: 120_000 }, () => {
  it('gives a container on each host its record, ingress rule and, when asked, an Access app', async () => {
    const onA = uniqueHostname('web-a');
    const onB = uniqueHostname('web-b', 'example.org');
    const [a, b] = await Promise.all([
      fleet().a.runContainer({
        labels: publishLabels(onA, { 'tunnelfleet.access.emails': 'boss@example.com' }),
      }),
      fleet().b.runContainer({ labels: publishLabels(onB) }),
    ]);

    const [pubA, pubB] = await Promise.all([
      waitPublished(fleet(), fleet().a, onA, { access: true }),
      waitPublished(fleet(), fleet().b, onB),
    ]);
    expect(pubA.record).toMatchObject({ type: 'CNAME', proxied: true });
    expect(pubA.rule.service).toBe(`http://${a.name}:80`);
    expect(pubA.app?.domain).toBe(onA);
    expect(pubB.record).toMatchObject({ type: 'CNAME', proxied: true });
    expect(pubB.rule.service).toBe(`http://${b.name}:80`);
    expect(pubB.app).toBeUndefined();

    const [routeA] = await routesOf(fleet(), onA);
    expect(routeA).toMatchObject({
      status: 'active',
      agentId: await fleet().a.agentId(),
      containerName: a.name,
    });
    const [routeB] = await routesOf(fleet(), onB);
    expect(routeB).toMatchObject({
      status: 'active',
      agentId: await fleet().b.agentId(),
      zone: 'example.org',
    });
  });

  it('publishes several routes of one container', async () => {
    const main = uniqueHostname('multi');
    const api = uniqueHostname('multi-api');
    const admin = uniqueHostname('multi-admin');
    await fleet().b.runContainer({
      labels: {
        ...publishLabels(main),
        'tunnelfleet.api.hostname': api,
        'tunnelfleet.api.service': 'http://backend:8080',
        'tunnelfleet.admin.hostname': admin,
        'tunnelfleet.admin.service': 'http_status:204',
        'tunnelfleet.admin.access.email_domains': 'example.com',
      },
    });
    const [, pubApi, pubAdmin] = await Promise.all([
      waitPublished(fleet(), fleet().b, main),
      waitPublished(fleet(), fleet().b, api),
      waitPublished(fleet(), fleet().b, admin, { access: true }),
    ]);
    expect(pubApi.rule.service).toBe('http://backend:8080');
    expect(pubAdmin.rule.service).toBe('http_status:204');
    expect(pubApi.app).toBeUndefined();
  });

  it('publishes DockFlare- and Labelgate-labelled containers as they are', async () => {
    const dockflare = uniqueHostname('dockflare');
    const dockflareIndexed = uniqueHostname('dockflare-1');
    const legacy = uniqueHostname('legacy');
    const labelgate = uniqueHostname('labelgate');
    await Promise.all([
      fleet().a.runContainer({
        labels: {
          'dockflare.enable': 'true',
          'dockflare.hostname': dockflare,
          'dockflare.service': 'http://dockflare-app:3000',
          'dockflare.0.hostname': dockflareIndexed,
          'dockflare.0.service': 'http://dockflare-app:3001',
        },
      }),
      fleet().a.runContainer({
        labels: {
          'cloudflare.tunnel.enable': 'true',
          'cloudflare.tunnel.hostname': legacy,
          'cloudflare.tunnel.service': 'http://legacy-app:8000',
        },
      }),
      fleet().b.runContainer({
        labels: {
          'labelgate.tunnel.web.hostname': labelgate,
          'labelgate.tunnel.web.service': 'http://labelgate-app:9000',
        },
      }),
    ]);
    const [pubDockflare, pubIndexed, pubLegacy, pubLabelgate] = await Promise.all([
      waitPublished(fleet(), fleet().a, dockflare),
      waitPublished(fleet(), fleet().a, dockflareIndexed),
      waitPublished(fleet(), fleet().a, legacy),
      waitPublished(fleet(), fleet().b, labelgate),
    ]);
    expect(pubDockflare.rule.service).toBe('http://dockflare-app:3000');
    expect(pubIndexed.rule.service).toBe('http://dockflare-app:3001');
    expect(pubLegacy.rule.service).toBe('http://legacy-app:8000');
    expect(pubLabelgate.rule.service).toBe('http://labelgate-app:9000');
    expect((await routesOf(fleet(), labelgate))[0]?.routeKey).toBe('labelgate.web');
  });

  it('shows a bad label as an invalid route naming the label, and publishes nothing for it', async () => {
    const hostname = uniqueHostname('typo');
    await fleet().a.runContainer({
      labels: publishLabels(hostname, { 'tunnelfleet.service': 'udp://x:53' }),
    });
    const route = await waitForRoute(hostname);
    expect(route.status).toBe('invalid');
    expect(JSON.stringify([route.statusMessage, route.problems])).toContain('tunnelfleet.service');
    expect(
      fleet()
        .emulator.dnsRecords()
        .some((r) => r.name === hostname),
    ).toBe(false);
  });
});

function waitForRoute(hostname: string) {
  return waitFor(async () => (await routesOf(fleet(), hostname))[0], {
    description: `a route for ${hostname} at the master`,
    timeoutMs: 30_000,
  });
}
