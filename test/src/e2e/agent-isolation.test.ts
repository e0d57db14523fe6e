import { describe, expect, it } from 'vitest';
import { reportedContainer } from '../system/protocol-agent.js';
import {
  attacker,
  cloudView,
  publishLabels,
  publishVictim,
  reportWithBarrier,
  routesOf,
  uniqueHostname,
  useFleet,
  victimState,
} from './support.js';

// A compromised or careless host, played by an agent that speaks the real protocol (no engine
// behind it), attacks what host B (a real agent on its own engine) publishes. Each attack must
// end in a refusal or an invalid/conflict route naming why, with B's records, ingress rules and
// Access apps at the emulator unchanged, byte for byte.
const fleet = useFleet({ secondEngine: 'docker11' });

describe('isolation between agents', { timeout: 180_000 }, () => {
  it("refuses a tunnel label naming another agent's tunnel, and B's tunnel, records and apps stay as they were", async () => {
    const f = fleet();
    const { hostname: victim, tunnelId: victimTunnel, before } = await publishVictim(f, 'secure');
    const victimTunnelName = `tunnelfleet-${await f.b.agentId()}`;

    const own = uniqueHostname('c', 'example.com');
    const sub = `x.${victim}`;
    const barrier = uniqueHostname('barrier', 'example.org');
    const c = await attacker(f, 'attacker-c', [own, sub, barrier]);
    await reportWithBarrier(f, c, barrier, [
      // Serve an allowed hostname through B's tunnel, into B's private network.
      reportedContainer('c1', 'hijack', {
        ...publishLabels(own),
        'tunnelfleet.tunnel': victimTunnelName,
        'tunnelfleet.service': 'http://10.0.0.5:8080',
      }),
      // A rule with path "." sorts before B's own rules in B's tunnel and takes its traffic.
      reportedContainer('c2', 'shadow', {
        ...publishLabels(sub),
        'tunnelfleet.path': '.',
        'tunnelfleet.tunnel': victimTunnelName,
        'tunnelfleet.service': 'http://10.0.0.5:8080',
      }),
    ]);

    for (const hostname of [own, sub]) {
      const [route] = await routesOf(f, hostname);
      expect(route?.status, hostname).toBe('invalid');
      expect(route?.statusMessage).toContain(`tunnel "${victimTunnelName}" is not this agent's tunnel`);
    }
    const view = cloudView(f);
    expect(view.records.filter((record) => record.name === own || record.name === sub)).toEqual([]);
    expect(
      [...view.ingress.values()].flat().filter((rule) => rule.service === 'http://10.0.0.5:8080'),
    ).toEqual([]);
    expect(victimState(f, victim, victimTunnel)).toBe(before);
  });

  it("refuses a claim on any path of a hostname another agent holds: no Access bypass beside B's app", async () => {
    const f = fleet();
    const { hostname: victim, tunnelId: victimTunnel, before } = await publishVictim(f, 'admin');
    const victimAgent = await f.b.agentId();

    const barrier = uniqueHostname('barrier', 'example.org');
    const careless = await attacker(f, 'attacker-b', [victim, barrier]);
    await reportWithBarrier(f, careless, barrier, [
      reportedContainer('b1', 'bypass', {
        ...publishLabels(victim),
        'tunnelfleet.path': '^/admin',
        'tunnelfleet.access.policy': 'bypass',
        'tunnelfleet.service': 'http://10.0.0.7:80',
      }),
    ]);

    const attackRoute = (await routesOf(f, victim)).find((route) => route.agentId === careless.agentId);
    expect(attackRoute?.status).toBe('conflict');
    expect(attackRoute?.statusMessage).toContain(
      `hostname ${victim} (every path of it) is held by agent ${victimAgent}`,
    );
    const conflicts = await f.admin.conflicts();
    expect(
      conflicts.some(
        (conflict) => conflict.routeId === attackRoute?.id && conflict.kind === 'hostname_claimed',
      ),
    ).toBe(true);
    expect(cloudView(f).apps.filter((app) => app.domain.startsWith(`${victim}/`))).toEqual([]);
    expect(victimState(f, victim, victimTunnel)).toBe(before);
  });
});
