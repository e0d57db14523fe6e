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
  waitUnpublished,
  writesTouching,
} from './support.js';

// A short grace period and a full reconcile every second (which expires grace periods) stand in
// for the production 10 minutes and 5 minutes: the logic is the same, only the clock is faster.
const GRACE_SECONDS = 4;
const fleet = useFleet({
  secondEngine: 'docker3',
  masterEnv: { GRACE_PERIOD_SECONDS: String(GRACE_SECONDS), RECONCILE_CRON: '* * * * * *' },
});

/** Hostnames of cleanup=false routes whose container is gone: kept at Cloudflare on purpose. */
const retained: string[] = [];

describe('routes over a container lifecycle', { timeout: 120_000 }, () => {
  it('restores a route whose container comes back within the grace period, with no Cloudflare write', async () => {
    // On host B: its engine runs only this file's containers, so any write would be this route's.
    const { b, emulator } = fleet();
    const hostname = uniqueHostname('restore', 'example.org');
    const app = await b.runContainer({ labels: publishLabels(hostname) });
    await waitPublished(fleet(), b, hostname);
    await expectConverged(fleet(), { alsoCarried: retained });
    const agentId = await b.agentId();
    const tunnelId = await tunnelIdOf(fleet(), b);
    const writesAboutB = () => writesTouching(fleet(), tunnelId, 'example.org');

    emulator.clearCalls();
    await app.container.stop({ t: 1 });
    const pending = await waitRouteStatus(fleet(), hostname, agentId, 'pending_deletion');
    expect(pending.deleteAfter).not.toBeNull();
    await app.container.start();
    await waitRouteStatus(fleet(), hostname, agentId, 'active');
    // Past the deadline the stop had set, full reconciles have run and changed nothing.
    const deadline = Date.parse(pending.deleteAfter!);
    await waitFor(() => Date.now() > deadline + 2_000, {
      description: 'the old deadline to pass',
      timeoutMs: 15_000,
    });
    await waitPublished(fleet(), b, hostname);
    expect(writesAboutB()).toEqual([]);
  });

  it('unpublishes a stopped container after the grace period, and not before', async () => {
    const hostname = uniqueHostname('unpublish');
    const app = await fleet().b.runContainer({
      labels: publishLabels(hostname, { 'tunnelfleet.access.everyone': 'true' }),
    });
    await waitPublished(fleet(), fleet().b, hostname, { access: true });

    await app.container.stop({ t: 1 });
    const pending = await waitRouteStatus(fleet(), hostname, await fleet().b.agentId(), 'pending_deletion');
    // Still served during the grace period.
    expect(cloudView(fleet()).records.filter((r) => r.name === hostname)).toHaveLength(1);
    await waitUnpublished(fleet(), hostname);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(pending.deleteAfter!));
    await expectConverged(fleet(), { alsoCarried: retained });
  });

  it('keeps the record and rule of a cleanup=false route after the grace period', async () => {
    const hostname = uniqueHostname('keep');
    const app = await fleet().a.runContainer({
      labels: publishLabels(hostname, { 'tunnelfleet.cleanup': 'false' }),
    });
    const published = await waitPublished(fleet(), fleet().a, hostname);

    await app.container.remove({ force: true });
    const pending = await waitRouteStatus(fleet(), hostname, await fleet().a.agentId(), 'pending_deletion');
    const deadline = Date.parse(pending.deleteAfter!);
    await waitFor(
      async () => Date.now() > deadline + 3_000 && (await routesOf(fleet(), hostname)).length === 0,
      {
        description: `the grace period of ${hostname} to end`,
        timeoutMs: 30_000,
      },
    );
    const view = cloudView(fleet());
    expect(view.records.filter((r) => r.name === hostname)).toEqual([published.record]);
    expect(rulesFor(view, hostname)).toEqual([published.rule]);
    retained.push(hostname);
    await expectConverged(fleet(), { alsoCarried: retained });
  });

  it('gives a hostname claimed on both hosts to the first, shows the conflict, and hands it over', async () => {
    const hostname = uniqueHostname('contested');
    const first = await fleet().a.runContainer({ labels: publishLabels(hostname) });
    await waitPublished(fleet(), fleet().a, hostname);
    await fleet().b.runContainer({ labels: publishLabels(hostname) });

    const agentA = await fleet().a.agentId();
    const agentB = await fleet().b.agentId();
    await waitRouteStatus(fleet(), hostname, agentB, 'conflict');
    expect((await routesOf(fleet(), hostname)).find((r) => r.agentId === agentA)?.status).toBe('active');
    const conflicts = await fleet().admin.conflicts();
    expect(conflicts.filter((c) => c.hostname === hostname)).toEqual([
      expect.objectContaining({ kind: 'hostname_claimed' }),
    ]);
    // Cloudflare still sends the hostname to the first host.
    await waitPublished(fleet(), fleet().a, hostname);

    await first.container.remove({ force: true });
    await waitPublished(fleet(), fleet().b, hostname);
    await waitRouteStatus(fleet(), hostname, agentB, 'active');
    await expectConverged(fleet(), { alsoCarried: retained });
  });
});
