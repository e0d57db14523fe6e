import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet } from '../system/fleet.js';
import { connectProtocolAgent, type ProtocolAgent, reportedContainer } from '../system/protocol-agent.js';
import {
  CONVERGE_TIMEOUT_MS,
  cloudView,
  publishLabels,
  publishVictim,
  reportWithBarrier,
  routesOf,
  uniqueHostname,
  useFleet,
  victimState,
} from './support.js';

// What a key allows, and what outlives an agent: a compromised host, played by an agent that
// speaks only the protocol, holds a key created with `allowAnyHostname` (the broadest scope there
// is) and attacks the zone host B (a real agent on its own engine) publishes in. B's records,
// ingress rules and Access apps at the emulator must stay unchanged, byte for byte. A short grace
// period and a full reconcile every second (which ends grace periods) stand in for production's
// 10 and 5 minutes.
const fleet = useFleet({
  secondEngine: 'docker12',
  masterEnv: { GRACE_PERIOD_SECONDS: '2', RECONCILE_CRON: '* * * * * *' },
});

/** A protocol agent whose key allows any hostname (the harness's default without an allowlist). */
async function attacker(f: Fleet, name: string): Promise<{ agent: ProtocolAgent; keyId: string }> {
  const { key, keyId } = await f.admin.createKey({ name, autoApprove: true });
  expect((await f.admin.keys()).find((k) => k.id === keyId)).toMatchObject({
    allowAnyHostname: true,
    hostnameAllowlist: [],
  });
  f.secrets.add(`API key ${name}`, key);
  return { agent: await connectProtocolAgent(f.master.url, key, name), keyId };
}

describe('key scopes and retained routes against another agent', { timeout: 180_000 }, () => {
  it('refuses a wildcard hostname to an allow-any key: nothing catches the zone, B unchanged', async () => {
    const f = fleet();
    const b = await publishVictim(f, 'victim');
    const wildcard = '*.example.org';
    const barrier = uniqueHostname('barrier', 'example.org');
    const { agent } = await attacker(f, 'attacker-wildcard');
    // Once the barrier's record exists, the zone sync that would have carried the wildcard ran.
    await reportWithBarrier(f, agent, barrier, [
      // Served for every name of the zone nobody else claims, B's future ones included.
      reportedContainer(
        'f1',
        'catch-all',
        publishLabels(wildcard, { 'tunnelfleet.service': 'http://10.0.0.5:80' }),
      ),
    ]);

    const [route] = await routesOf(f, wildcard);
    expect(route?.status).toBe('invalid');
    expect(route?.statusMessage).toBe(
      `wildcard hostname ${wildcard} needs a key whose allowlist names it (or a broader wildcard); ` +
        "this agent's key allows any hostname, which never includes wildcards",
    );
    expect(
      (await f.admin.conflicts()).some((c) => c.routeId === route?.id && c.kind === 'outside_allowlist'),
    ).toBe(true);
    const view = cloudView(f);
    expect(view.records.filter((record) => record.name.includes('*'))).toEqual([]);
    expect([...view.ingress.values()].flat().filter((rule) => rule.hostname?.includes('*'))).toEqual([]);
    expect(victimState(f, b.hostname, b.tunnelId)).toBe(b.before);
  });

  it("lists an agent's retained route, and its revocation and deletion withdraw it; B unchanged", async () => {
    const f = fleet();
    const b = await publishVictim(f, 'victim');
    const kept = uniqueHostname('kept', 'example.org');
    const { agent } = await attacker(f, 'attacker-retained');
    const labels = publishLabels(kept, {
      'tunnelfleet.service': 'http://10.0.0.5:80',
      'tunnelfleet.cleanup': 'false',
      'tunnelfleet.access.emails': 'mallory@example.com',
    });
    expect((await agent.report([reportedContainer('d1', 'lingering', labels)])).status).toBe(200);
    await waitFor(
      () => {
        const view = cloudView(f);
        return view.records.some((r) => r.name === kept) && view.apps.some((a) => a.domain === kept);
      },
      { description: `${kept}'s record and app published`, timeoutMs: CONVERGE_TIMEOUT_MS },
    );

    // The container goes for good; past the grace period the route is retained, and shown.
    expect((await agent.report([])).status).toBe(200);
    const retained = await waitFor(
      async () => (await f.admin.retainedRoutes({ agentId: agent.agentId }))[0],
      { description: `${kept} retained once its grace period ended`, timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect(retained).toMatchObject({ agentId: agent.agentId, hostname: kept, service: 'http://10.0.0.5:80' });
    expect(await routesOf(f, kept)).toEqual([]);
    // Retained means still published (a sync between its deadline and its retention may have
    // withdrawn it for a moment; the retention puts it back).
    await waitFor(() => cloudView(f).records.some((r) => r.name === kept), {
      description: `${kept} published while retained`,
      timeoutMs: CONVERGE_TIMEOUT_MS,
    });

    await f.admin.revokeAgent(agent.agentId);
    await f.admin.deleteAgent(agent.agentId);
    expect(await f.admin.retainedRoutes({ hostname: kept })).toEqual([]);
    await waitFor(
      () => {
        const view = cloudView(f);
        return !view.records.some((r) => r.name === kept) && !view.apps.some((a) => a.domain === kept);
      },
      { description: `${kept}'s record and app withdrawn`, timeoutMs: CONVERGE_TIMEOUT_MS },
    );
    expect(victimState(f, b.hostname, b.tunnelId)).toBe(b.before);
  });
});
