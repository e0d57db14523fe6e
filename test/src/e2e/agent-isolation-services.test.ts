import { describe, expect, it } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet } from '../system/fleet.js';
import { reportedContainer } from '../system/protocol-agent.js';
import {
  attacker,
  CONVERGE_TIMEOUT_MS,
  cloudView,
  publishLabels,
  publishVictim,
  reportWithBarrier,
  routesOf,
  rulesFor,
  tunnelIdOf,
  uniqueHostname,
  useFleet,
  victimState,
  waitPublished,
} from './support.js';

// Services an agent should not publish (issue 11, item 5). A host that speaks the real protocol
// reports containers whose labels point the internet at its cloud metadata endpoint, at
// cloudflared itself, at the Docker socket, or turn the tunnel into a bastion or SOCKS proxy.
// Each route must be invalid naming the service, the rule and how to open it, must reach
// Cloudflare in no form, and host B (a real agent on its own engine) must not change at all.
const fleet = useFleet({ secondEngine: 'docker13' });

/** Waits until `hostname` has a record and an ingress rule serving `service`. */
async function waitServed(f: Fleet, hostname: string, service: string) {
  await waitFor(
    () => {
      const view = cloudView(f);
      return (
        view.records.some((record) => record.name === hostname) &&
        rulesFor(view, hostname).some((rule) => rule.service === service)
      );
    },
    { description: `${hostname} served by ${service}`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
}

describe('services an agent may not publish', { timeout: 180_000 }, () => {
  it('refuses metadata, loopback, sockets, bastion and SOCKS in every spelling, and B stays as it was', async () => {
    const f = fleet();
    const { hostname: victim, tunnelId: victimTunnel, before } = await publishVictim(f, 'victim');

    const attacks: { service: string; rule: string; origin?: Record<string, string> }[] = [
      { service: 'http://169.254.169.254', rule: 'link-local' },
      { service: 'http://2852039166', rule: 'link-local' },
      { service: 'http://0xa9.0xfe.0xa9.0xfe', rule: 'link-local' },
      { service: 'http://0251.0376.0251.0376', rule: 'link-local' },
      { service: 'http://[::ffff:169.254.169.254]', rule: 'link-local' },
      { service: 'http://[fd00:ec2::254]', rule: 'link-local' },
      { service: 'http://metadata.google.internal', rule: 'link-local' },
      { service: 'http://100.100.100.200', rule: 'link-local' },
      { service: 'http://localhost:2000', rule: 'loopback' }, // cloudflared's own metrics
      { service: 'http://127.1:2000', rule: 'loopback' },
      { service: 'http://0.0.0.0:2000', rule: 'loopback' },
      { service: 'http://[::1]:2000', rule: 'loopback' },
      { service: 'unix:/var/run/docker.sock', rule: 'unix' },
      { service: 'bastion', rule: 'bastion' },
      {
        service: 'http://10.0.0.8:80',
        rule: 'bastion',
        origin: { 'tunnelfleet.origin.bastionMode': 'true' },
      },
      { service: 'http://10.0.0.8:80', rule: 'socks', origin: { 'tunnelfleet.origin.proxyType': 'socks' } },
    ];
    const hostnames = attacks.map((_, index) => uniqueHostname(`svc${index}`, 'example.org'));
    const barrier = uniqueHostname('barrier', 'example.org');
    const host = await attacker(f, 'attacker-services', [...hostnames, barrier]);
    await reportWithBarrier(f, host, barrier, [
      ...attacks.map((attack, index) =>
        reportedContainer(`a${index.toString(16)}`, `svc${index}`, {
          ...publishLabels(hostnames[index]!, { 'tunnelfleet.service': attack.service }),
          ...attack.origin,
        }),
      ),
    ]);

    for (const [index, attack] of attacks.entries()) {
      const [route] = await routesOf(f, hostnames[index]!);
      expect(route?.status, attack.service).toBe('invalid');
      expect(route?.statusMessage, attack.service).toContain("is refused by the key's service policy");
      expect(route?.statusMessage, attack.service).toContain(
        `(rule "${attack.rule}"; to allow it, create the agent's key with --allow-service ${attack.rule})`,
      );
    }
    const [decimal] = await routesOf(f, hostnames[1]!);
    expect(decimal?.statusMessage).toContain('"http://2852039166" is refused');
    expect(decimal?.statusMessage).toContain('its host 169.254.169.254 is a link-local address');

    const view = cloudView(f);
    const attacked = new Set(hostnames);
    expect(view.records.filter((record) => attacked.has(record.name))).toEqual([]);
    expect(
      [...view.ingress.values()]
        .flat()
        .filter((rule) => rule.hostname !== undefined && attacked.has(rule.hostname)),
    ).toEqual([]);
    expect(victimState(f, victim, victimTunnel)).toBe(before);
  });

  it("publishes loopback for a key opened for it, and a containerOnly key only its own container, never B's", async () => {
    const f = fleet();
    const victimContainer = 'tf-e2e-victim-db';
    const victim = uniqueHostname('victim-db', 'example.org');
    await f.b.runContainer({ name: victimContainer, labels: publishLabels(victim) });
    await waitPublished(f, f.b, victim);
    const victimTunnel = await tunnelIdOf(f, f.b);
    const before = victimState(f, victim, victimTunnel);

    const local = uniqueHostname('local', 'example.org');
    const opened = await attacker(f, 'opened-loopback', [local], { allow: ['loopback'] });
    expect(
      (
        await opened.report([
          reportedContainer(
            '10',
            'sidecar',
            publishLabels(local, { 'tunnelfleet.service': 'http://localhost:8080' }),
          ),
        ])
      ).status,
    ).toBe(200);
    await waitServed(f, local, 'http://localhost:8080');
    expect((await routesOf(f, local))[0]?.status).toBe('active');

    const own = uniqueHostname('own', 'example.org');
    const other = uniqueHostname('other', 'example.org');
    const narrowed = await attacker(f, 'own-container', [own, other], { allow: [], containerOnly: true });
    const networks = { apps: { ipAddress: '172.31.0.9', aliases: ['api-alias'] } };
    const answer = await narrowed.report([
      {
        ...reportedContainer(
          '20',
          'api',
          publishLabels(own, { 'tunnelfleet.service': 'http://api-alias:8080' }),
        ),
        networks,
      },
      // B's container by name: reachable only if the hosts share a network, and never this key's to publish.
      {
        ...reportedContainer(
          '21',
          'thief',
          publishLabels(other, { 'tunnelfleet.service': `http://${victimContainer}:80` }),
        ),
        networks,
      },
    ]);
    expect(answer.status).toBe(200);
    await waitServed(f, own, 'http://api-alias:8080');
    const [refused] = await routesOf(f, other);
    expect(refused?.status).toBe('invalid');
    expect(refused?.statusMessage).toContain(`its host ${victimContainer} is not this container`);
    expect(refused?.statusMessage).toContain(
      '(rule "container-only"; this container: thief, api-alias, 172.31.0.9)',
    );
    const view = cloudView(f);
    expect(view.records.filter((record) => record.name === other)).toEqual([]);
    expect(rulesFor(view, other)).toEqual([]);
    expect(victimState(f, victim, victimTunnel)).toBe(before);
  });
});
