import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import { seedForeignObjects } from './foreign-objects.js';
import {
  cloudView,
  expectConverged,
  publishLabels,
  rulesFor,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  waitPublished,
} from './support.js';

const fleet = useFleet({ secondEngine: 'docker8' });

describe('Cloudflare misbehaving', { timeout: 240_000 }, () => {
  it('converges through a 429 storm and then 30 % 5xx, with no duplicate and nothing foreign touched', async () => {
    const { b, emulator } = fleet();
    const foreign = seedForeignObjects(fleet());
    const failedCalls = (status: (s: number) => boolean) =>
      emulator.calls().filter((c) => status(c.status)).length;

    emulator.faults.set({ rateLimitStorm: true });
    const stormed = Array.from({ length: 8 }, (_, i) => uniqueHostname(`storm-${i}`));
    for (const hostname of stormed) await b.runContainer({ labels: publishLabels(hostname) });
    await waitFor(() => failedCalls((s) => s === 429) >= 3, {
      description: 'the master to meet the 429 storm',
      timeoutMs: 60_000,
    });
    emulator.faults.clear();

    emulator.faults.set({ errorRate: { '*': 0.3 } });
    const flaky = Array.from({ length: 8 }, (_, i) => uniqueHostname(`flaky-${i}`, 'example.org'));
    for (const hostname of flaky) await b.runContainer({ labels: publishLabels(hostname) });
    await waitFor(() => failedCalls((s) => s >= 500) >= 3, {
      description: 'the master to meet 5xx answers',
      timeoutMs: 60_000,
    });
    emulator.faults.clear();

    await Promise.all([...stormed, ...flaky].map((hostname) => waitPublished(fleet(), b, hostname)));
    await expectConverged(fleet(), { timeoutMs: 120_000 });
    expect(foreign.unchanged(), JSON.stringify(foreign.describe())).toBe(true);
  });

  it('repairs drift made by hand at the next full reconcile, leaving foreign objects alone', async () => {
    const { a, b, emulator, admin, cloudflare } = fleet();
    const foreign = seedForeignObjects(fleet());
    const recordGone = uniqueHostname('drift-record');
    const ruleGone = uniqueHostname('drift-rule');
    const edited = uniqueHostname('drift-edit');
    await Promise.all([
      a.runContainer({ labels: publishLabels(recordGone) }),
      b.runContainer({ labels: publishLabels(ruleGone) }),
      b.runContainer({ labels: publishLabels(edited) }),
    ]);
    const [published] = await Promise.all([
      waitPublished(fleet(), a, recordGone),
      waitPublished(fleet(), b, ruleGone),
      waitPublished(fleet(), b, edited),
    ]);
    await expectConverged(fleet());

    // By hand: delete a record, drop one rule and point another elsewhere.
    const handToken = emulator.createToken({
      accountIds: [cloudflare.accountId],
      zoneNames: 'all',
      name: 'by-hand',
    });
    const deleted = await fetch(
      `${cloudflare.baseUrl}/zones/${cloudflare.zones['example.com']}/dns_records/${published.record.id}`,
      { method: 'DELETE', headers: { authorization: `Bearer ${handToken}` } },
    );
    expect(deleted.status).toBe(200);
    const tunnelB = await tunnelIdOf(fleet(), b);
    const config = emulator.tunnelConfig(tunnelB)!.config as {
      ingress: Array<{ hostname?: string; service: string }>;
    };
    emulator.setTunnelConfig(tunnelB, {
      ...config,
      ingress: config.ingress
        .filter((rule) => rule.hostname !== ruleGone)
        .map((rule) => (rule.hostname === edited ? { ...rule, service: 'http://hijacked:1' } : rule)),
    });
    expect(cloudView(fleet()).records.some((r) => r.name === recordGone)).toBe(false);

    await admin.reconcile();
    await expectConverged(fleet());
    const view = cloudView(fleet());
    expect(rulesFor(view, edited).map((r) => r.service)).not.toContain('http://hijacked:1');
    expect(rulesFor(view, ruleGone)).toHaveLength(1);
    expect(view.records.filter((r) => r.name === recordGone)).toHaveLength(1);
    expect(foreign.unchanged(), JSON.stringify(foreign.describe())).toBe(true);
  });
});
