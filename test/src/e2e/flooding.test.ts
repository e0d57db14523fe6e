import { describe, expect, it } from 'vitest';
import type { Fleet } from '../system/fleet.js';
import { connectProtocolAgent, reportedContainer } from '../system/protocol-agent.js';
import { cloudView, publishLabels, rulesFor, uniqueHostname, useFleet, waitPublished } from './support.js';

// Flooding from one agent (issue 11, item 8): a host that sends reports in a loop is slowed down
// with 429 + Retry-After, and the other hosts keep publishing, their objects untouched.
const fleet = useFleet({ secondEngine: 'docker14' });

/** The victim hostname's records and ingress rules at the emulator, serialised. */
function victimState(f: Fleet, hostname: string): string {
  const view = cloudView(f);
  return JSON.stringify({
    records: view.records.filter((record) => record.name === hostname),
    rules: rulesFor(view, hostname),
  });
}

describe('flooding from one agent', { timeout: 180_000 }, () => {
  it('answers a report flood with 429 rate_limited, while host B still publishes and keeps what it had', async () => {
    const f = fleet();
    const victim = uniqueHostname('steady', 'example.org');
    await f.b.runContainer({ labels: publishLabels(victim) });
    await waitPublished(f, f.b, victim);
    const before = victimState(f, victim);

    const own = uniqueHostname('flood', 'example.com');
    const { key } = await f.admin.createKey({ name: 'flooder', autoApprove: true, hostnameAllowlist: [own] });
    f.secrets.add('API key flooder', key);
    const flooder = await connectProtocolAgent(f.master.url, key, 'flooder');
    const containers = [reportedContainer('f1', 'flood', publishLabels(own))];

    // Snapshots in a loop, as fast as the master answers: the burst (120 by default) passes, then 429.
    let accepted = 0;
    let refused: Awaited<ReturnType<typeof flooder.report>> | undefined;
    while (refused === undefined && accepted < 200) {
      const answer = await flooder.report(containers);
      if (answer.status === 429) refused = answer;
      else {
        expect(answer.status).toBe(200);
        accepted += 1;
      }
    }
    expect(refused, `a 429 within 200 reports (${accepted} accepted)`).toBeDefined();
    expect(refused!.body).toMatchObject({ error: { code: 'rate_limited' } });
    expect(accepted).toBeGreaterThanOrEqual(120);

    // Host B is not slowed down by it: a new container of B's is published meanwhile, and what B
    // had before is as it was.
    const another = uniqueHostname('during-flood', 'example.org');
    await f.b.runContainer({ labels: publishLabels(another) });
    await waitPublished(f, f.b, another);
    expect(victimState(f, victim)).toBe(before);
  });
});
