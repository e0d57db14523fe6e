import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import { reportedContainer } from '../system/protocol-agent.js';
import {
  attacker,
  CONVERGE_TIMEOUT_MS,
  cloudView,
  publishVictim,
  routesOf,
  rulesFor,
  uniqueHostname,
  useFleet,
  victimState,
  waitForBarrier,
  waitPublished,
} from './support.js';

// DockFlare's LABEL_PREFIX and Labelgate's LABELGATE_LABEL_PREFIX, set on the agents as users of
// those tools set them. The master reads each host's labels with that host's prefixes, and a
// prefix only chooses which labels are read: what they ask for is judged as with the defaults.
const fleet = useFleet({
  secondEngine: 'docker22',
  agentEnv: { LABEL_PREFIX: 'mycorp', LABELGATE_LABEL_PREFIX: 'edge' },
});

/** DockFlare labels under `prefix` publishing `hostname` to a made-up origin. */
const dockflareLabels = (prefix: string, hostname: string, extra: Record<string, string> = {}) => ({
  [`${prefix}.enable`]: 'true',
  [`${prefix}.hostname`]: hostname,
  [`${prefix}.service`]: 'http://10.0.0.5:80',
  ...extra,
});

describe('custom label prefixes set on the agent', { timeout: 180_000 }, () => {
  it("publishes a host's DockFlare and Labelgate labels under its own prefixes, Access included", async () => {
    const f = fleet();
    const dockflare = uniqueHostname('mycorp');
    const labelgate = uniqueHostname('edge');
    await f.a.runContainer({
      labels: {
        'mycorp.enable': 'true',
        'mycorp.hostname': dockflare,
        'mycorp.access.policy': 'bypass',
        'edge.tunnel.web.hostname': labelgate,
        'edge.tunnel.web.service': 'http://web:80',
        'edge.tunnel.web.access': 'staff',
        'edge.access.staff.policy.include.emails': 'boss@example.com',
      },
    });
    const published = await waitPublished(f, f.a, dockflare, { access: true });
    expect(published.rule.service).toMatch(/^http:\/\/[a-z0-9-]+:80$/);
    await waitPublished(f, f.a, labelgate, { access: true });
    const [route] = await routesOf(f, dockflare);
    expect(route).toMatchObject({ status: 'active', routeKey: 'dockflare' });
    // What the agent registered with, as the admin API shows it.
    const agent = await f.admin.agent(await f.a.agentId());
    expect(agent.labelPrefixes).toEqual({ dockflare: 'mycorp.', labelgate: 'edge.' });
  });

  it('reads a prefix for the host that registered it only: the same labels from another host are nothing', async () => {
    const f = fleet();
    const hostname = uniqueHostname('other-host');
    const plain = await attacker(f, 'no-prefix', [hostname]);
    expect(
      (await plain.report([reportedContainer('a1', 'web', dockflareLabels('mycorp', hostname))])).status,
    ).toBe(200);
    // The report is applied before it is answered: the master found no route in these labels.
    expect(await routesOf(f, hostname)).toEqual([]);
  });

  it('claims nothing under a prefix that the default prefix could not claim: B unchanged', async () => {
    const f = fleet();
    const { hostname: victim, tunnelId: victimTunnel, before } = await publishVictim(f, 'prefixed');
    const outside = uniqueHostname('outside', 'example.org');
    const barrier = uniqueHostname('barrier', 'example.org');
    // Two careless hosts with the same key scope and the same labels, one under its own prefix.
    const prefixed = await attacker(f, 'attacker-prefixed', [barrier]);
    const evil = await attacker(f, 'attacker-evil', [barrier], undefined, {
      labelPrefixes: { dockflare: 'evil' },
    });
    const attack = (prefix: string) => [
      // B's hostname, with a bypass beside B's app, and a hostname outside the key's allowlist.
      reportedContainer(
        'e1',
        'hijack',
        dockflareLabels(prefix, victim, { [`${prefix}.access.policy`]: 'bypass' }),
      ),
      reportedContainer('e2', 'outside', dockflareLabels(prefix, outside)),
      reportedContainer('e3', 'honest', dockflareLabels(prefix, barrier)),
    ];
    expect((await prefixed.report(attack('dockflare'))).status).toBe(200);
    expect((await evil.report(attack('evil'))).status).toBe(200);
    await waitForBarrier(f, barrier);

    for (const hostname of [victim, outside]) {
      const routes = await routesOf(f, hostname);
      const viaDefault = routes.find((r) => r.agentId === prefixed.agentId);
      const viaCustom = routes.find((r) => r.agentId === evil.agentId);
      expect(viaDefault?.status, hostname).toMatch(/^(invalid|conflict)$/);
      // The same verdict, for the same reason, whichever prefix the labels came under.
      expect(viaCustom?.status, hostname).toBe(viaDefault?.status);
      expect(viaCustom?.statusMessage, hostname).toBe(viaDefault?.statusMessage);
    }
    const view = cloudView(f);
    expect(view.records.filter((r) => r.name === outside)).toEqual([]);
    expect(rulesFor(view, outside)).toEqual([]);
    expect(victimState(f, victim, victimTunnel)).toBe(before);
  });

  it('refuses a hostile prefix at registration with the reason, keeping the prefix it had', async () => {
    const f = fleet();
    const hostname = uniqueHostname('kept');
    const agent = await attacker(f, 'prefix-changer', [hostname], undefined, {
      labelPrefixes: { dockflare: 'corp' },
    });
    const web = reportedContainer('d1', 'web', dockflareLabels('corp', hostname));
    expect((await agent.report([web])).status).toBe(200);
    const published = () => cloudView(f).records.some((r) => r.name === hostname);
    await waitFor(published, {
      description: `${hostname} published under the prefix corp.`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });

    for (const [labelPrefixes, reason] of [
      [{ dockflare: 'tunnelfleet' }, 'overlaps the prefix "tunnelfleet."'],
      [{ dockflare: 'com.docker.compose' }, "of Docker's own labels"],
      [{ labelgate: 'corp..x' }, 'may hold only letters, digits'],
      [{ dockflare: 'a', labelgate: 'a.b' }, 'overlap: one label would be read by both languages'],
      [{ dockflare: 'x'.repeat(65) }, 'is longer than 64 characters'],
    ] as const) {
      const answer = await agent.register({ labelPrefixes });
      expect(answer.status, JSON.stringify(labelPrefixes)).toBe(400);
      const { error } = answer.body as { error: { code: string; message: string } };
      expect(error.code).toBe('validation_failed');
      expect(error.message).toContain('invalid register body: labelPrefixes');
      expect(error.message).toContain(reason);
    }
    const [route] = await routesOf(f, hostname);
    expect(route?.status).toBe('active');

    // A prefix that changes for real: the host's labels are read again, and corp.* means nothing now.
    expect((await agent.register({ labelPrefixes: { dockflare: 'other' } })).status).toBe(200);
    await waitFor(() => !published(), {
      description: `${hostname} withdrawn once the prefix changed`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });
    expect((await routesOf(f, hostname)).filter((r) => r.status === 'active')).toEqual([]);
  });
});
