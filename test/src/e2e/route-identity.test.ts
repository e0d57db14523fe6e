import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import {
  cloudView,
  expectConverged,
  publishLabels,
  routesOf,
  rulesFor,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  waitPublished,
  waitRouteStatus,
} from './support.js';

// A grace period far longer than any wait below: whatever reaches Cloudflare here did not wait
// it out. Everything runs on host B, whose engine runs only this file's containers.
const GRACE_SECONDS = 120;
/** Well inside the grace period: a successor's labels must be out by then. */
const TAKEOVER_TIMEOUT_MS = 30_000;
const fleet = useFleet({
  secondEngine: 'docker15',
  masterEnv: { GRACE_PERIOD_SECONDS: String(GRACE_SECONDS) },
});

const composeLabels = (project: string, service: string) => ({
  'com.docker.compose.project': project,
  'com.docker.compose.service': service,
});

describe('route identity: who a route belongs to', { timeout: 120_000 }, () => {
  it('hands a recreated container’s route to the new one at once, with its new labels and no conflict', async () => {
    const { b } = fleet();
    const hostname = uniqueHostname('recreate');
    const name = `tf-e2e-recreate-${hostname.slice(9, 15)}`;
    const old = await b.runContainer({
      name,
      labels: publishLabels(hostname, { 'tunnelfleet.service': `http://${name}:80` }),
    });
    await waitPublished(fleet(), b, hostname);

    // What `docker compose up -d` does after a label edit: the old container goes, a new one of the
    // same name (and compose service) comes with the new labels.
    await old.container.remove({ force: true });
    const recreated = await b.runContainer({
      name,
      labels: publishLabels(hostname, { 'tunnelfleet.service': `http://${name}:8080` }),
    });
    const tunnelId = await tunnelIdOf(fleet(), b);
    await waitFor(
      () =>
        rulesFor(cloudView(fleet()), hostname).find(
          (rule) => rule.tunnelId === tunnelId && rule.service === `http://${name}:8080`,
        ),
      {
        description: 'the new service at the emulator, well inside the grace period',
        timeoutMs: TAKEOVER_TIMEOUT_MS,
      },
    );

    const routes = await routesOf(fleet(), hostname);
    expect(routes).toEqual([
      expect.objectContaining({
        status: 'active',
        containerId: recreated.id,
        containerName: name,
        identity: `container:${name}`,
        replaced: [expect.objectContaining({ containerId: old.id, containerName: name })],
      }),
    ]);
    // Resolved conflicts included: none was ever opened for the hostname.
    expect((await fleet().admin.conflicts(true)).filter((c) => c.hostname === hostname)).toEqual([]);
    await expectConverged(fleet());
  });

  it('follows a compose service through compose’s own recreate: rename, stop, create, start, remove', async () => {
    const { b } = fleet();
    const hostname = uniqueHostname('compose');
    const project = `tf-e2e-${hostname.slice(8, 14)}`;
    const name = `${project}-web-1`;
    const labels = (port: number) => ({
      ...publishLabels(hostname, { 'tunnelfleet.service': `http://web:${port}` }),
      ...composeLabels(project, 'web'),
    });
    const old = await b.runContainer({ name, labels: labels(80) });
    await waitPublished(fleet(), b, hostname);

    await old.container.rename({ name: `${old.id.slice(0, 12)}_${name}` });
    await old.container.stop({ t: 1 });
    const recreated = await b.runContainer({ name, labels: labels(8080) });
    await old.container.remove({ force: true });
    await waitFor(
      () => rulesFor(cloudView(fleet()), hostname).find((rule) => rule.service === 'http://web:8080'),
      {
        description: 'the new service at the emulator, well inside the grace period',
        timeoutMs: TAKEOVER_TIMEOUT_MS,
      },
    );

    expect(await routesOf(fleet(), hostname)).toEqual([
      expect.objectContaining({
        status: 'active',
        identity: `compose:${project}/web`,
        containerId: recreated.id,
        replaced: [expect.objectContaining({ containerId: old.id })],
      }),
    ]);
    expect((await fleet().admin.conflicts(true)).filter((c) => c.hostname === hostname)).toEqual([]);
    await expectConverged(fleet());
  });

  it('restores a stopped and started container with no Cloudflare write', async () => {
    const { b, emulator, cloudflare } = fleet();
    const hostname = uniqueHostname('restart');
    const app = await b.runContainer({ labels: publishLabels(hostname) });
    await waitPublished(fleet(), b, hostname);
    await expectConverged(fleet());
    const agentId = await b.agentId();

    const writesBefore = emulator.writes().length;
    await app.container.stop({ t: 1 });
    await waitRouteStatus(fleet(), hostname, agentId, 'pending_deletion');
    await app.container.start();
    const route = await waitRouteStatus(fleet(), hostname, agentId, 'active');
    // A marker route in another zone on the same tunnel: once it is out, whatever the restart could
    // have asked for has synced too, so the writes since are the marker's alone: its record in
    // example.org and one PUT of the tunnel's ingress, and nothing in the restarted route's zone.
    const marker = uniqueHostname('marker', 'example.org');
    await b.runContainer({ labels: publishLabels(marker) });
    await waitPublished(fleet(), b, marker);

    expect(route).toEqual(expect.objectContaining({ containerId: app.id, deleteAfter: null, replaced: [] }));
    const since = emulator.writes().slice(writesBefore);
    expect(since.filter((w) => w.path.includes(cloudflare.zones['example.com']!))).toEqual([]);
    expect(since.filter((w) => w.path.endsWith('/configurations'))).toHaveLength(1);
    await waitPublished(fleet(), b, hostname);
  });

  it('keeps the route of a container removed with no successor for the grace period', async () => {
    const { b } = fleet();
    const hostname = uniqueHostname('removed');
    const app = await b.runContainer({ labels: publishLabels(hostname) });
    const published = await waitPublished(fleet(), b, hostname);

    const removedAt = Date.now();
    await app.container.remove({ force: true });
    const pending = await waitRouteStatus(fleet(), hostname, await b.agentId(), 'pending_deletion');
    await fleet().admin.reconcile();

    // The deadline is the whole grace period away, and Cloudflare still carries the route meanwhile.
    expect(Date.parse(pending.deleteAfter!)).toBeGreaterThanOrEqual(removedAt + (GRACE_SECONDS - 5) * 1000);
    expect(await waitPublished(fleet(), b, hostname)).toEqual(published);
    expect((await routesOf(fleet(), hostname)).map((r) => r.status)).toEqual(['pending_deletion']);
  });

  it('lets one replica of a scaled compose service serve the route, without a conflict', async () => {
    const { b } = fleet();
    const hostname = uniqueHostname('scaled');
    const project = `tf-e2e-${hostname.slice(7, 13)}`;
    const labels = {
      ...publishLabels(hostname, { 'tunnelfleet.service': 'http://web:80' }),
      ...composeLabels(project, 'web'),
    };
    const replicas = [
      await b.runContainer({ name: `${project}-web-1`, labels }),
      await b.runContainer({ name: `${project}-web-2`, labels }),
      await b.runContainer({ name: `${project}-web-3`, labels }),
    ];
    await waitPublished(fleet(), b, hostname);
    const route = await waitFor(
      async () => (await routesOf(fleet(), hostname)).find((r) => r.replicas === replicas.length),
      { description: 'the route to count every replica', timeoutMs: TAKEOVER_TIMEOUT_MS },
    );

    expect(await routesOf(fleet(), hostname)).toEqual([
      expect.objectContaining({ status: 'active', identity: `compose:${project}/web`, replicas: 3 }),
    ]);
    expect(replicas.map((r) => r.id)).toContain(route.containerId);
    expect((await fleet().admin.conflicts(true)).filter((c) => c.hostname === hostname)).toEqual([]);
    await expectConverged(fleet());

    // Scaled down to the others: one of them takes over, nothing is unpublished meanwhile.
    await replicas.find((r) => r.id === route.containerId)!.container.remove({ force: true });
    const successor = await waitFor(
      async () => (await routesOf(fleet(), hostname)).find((r) => r.replicas === 2 && r.status === 'active'),
      { description: 'another replica to serve', timeoutMs: TAKEOVER_TIMEOUT_MS },
    );
    expect(successor.containerId).not.toBe(route.containerId);
    expect(successor.replaced[0]?.containerId).toBe(route.containerId);
    await waitPublished(fleet(), b, hostname);
  });

  it('publishes no ingress rule for a route in conflict with a foreign DNS record', async () => {
    const { b, emulator } = fleet();
    const hostname = uniqueHostname('foreign');
    emulator.seedDnsRecord('example.com', {
      type: 'CNAME',
      name: hostname,
      content: 'elsewhere.example.net',
      proxied: true,
      comment: 'made by hand',
    });
    await b.runContainer({ labels: publishLabels(hostname) });
    const route = await waitRouteStatus(fleet(), hostname, await b.agentId(), 'conflict');
    await fleet().admin.reconcile();
    await expectConverged(fleet());

    expect(route.statusMessage).toContain(hostname);
    expect(rulesFor(cloudView(fleet()), hostname)).toEqual([]);
    expect(cloudView(fleet()).records.filter((r) => r.name === hostname)).toEqual([
      expect.objectContaining({ content: 'elsewhere.example.net', comment: 'made by hand' }),
    ]);
  });
});
