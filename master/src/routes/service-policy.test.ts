import { type Container, listRoutesResponseSchema, type RouteView } from '@tunnelfleet/common';
import { waitFor } from '@tunnelfleet/test';
import { describe, expect, it } from 'vitest';
import { useMasterFixture } from '../../test/master-test-fixture.js';

// The key's service policy judged by the real master, from a report to the emulator: a refused
// service is an invalid route naming why and reaches Cloudflare in no form.

let counter = 0;
function container(
  name: string,
  labels: Record<string, string>,
  networks: Container['networks'] = {},
): Container {
  counter++;
  return {
    id: counter.toString(16).padStart(64, '0'),
    name,
    labels: { 'tunnelfleet.enable': 'true', ...labels },
    state: 'running',
    networks,
    exposedPorts: [{ port: 80, protocol: 'tcp' }],
  };
}

const route = (hostname: string, service: string, extra: Record<string, string> = {}) => ({
  'tunnelfleet.hostname': hostname,
  'tunnelfleet.service': service,
  ...extra,
});

describe('the service policy of an agent key', () => {
  const master = useMasterFixture({ env: { SYNC_DEBOUNCE_MS: '50' }, zone: 'example.com' });

  async function report(agent: { key: string; agentId: string }, containers: Container[]) {
    const answer = await master().reportSnapshot(agent, Date.now(), containers);
    expect(answer.body.status).toBe('accepted');
  }

  async function routesOf(agentId: string): Promise<RouteView[]> {
    const { routes } = listRoutesResponseSchema.parse(
      (await master().admin('GET', `/routes?agentId=${agentId}`)).body,
    );
    return routes;
  }

  const records = (): string[] =>
    master()
      .emulator.dnsRecords('example.com')
      .map((record) => String(record.name));
  function ingressServices(): string[] {
    return master()
      .emulator.tunnels()
      .flatMap((tunnel) => {
        const config = master().emulator.tunnelConfig(String(tunnel.id))?.config as
          | { ingress?: { hostname?: string; service: string; originRequest?: Record<string, unknown> }[] }
          | undefined;
        return (config?.ingress ?? []).map(
          (rule) => `${rule.hostname ?? '*'} ${rule.service} ${JSON.stringify(rule.originRequest ?? {})}`,
        );
      });
  }

  /** Waits for an honest route of the same report: its sync is the one that would carry the rest. */
  async function waitActive(hostname: string) {
    await waitFor(
      () => records().includes(hostname) && ingressServices().some((rule) => rule.startsWith(`${hostname} `)),
      {
        description: `${hostname} published`,
      },
    );
  }

  it('refuses every dangerous service with the default policy, naming the service, the rule and how to open it', async () => {
    const agent = await master().enrollAgent({ name: 'default-policy' });
    const attacks: [string, Record<string, string>, string][] = [
      ['meta.example.com', route('meta.example.com', 'http://169.254.169.254'), 'link-local'],
      ['meta-dec.example.com', route('meta-dec.example.com', 'http://2852039166'), 'link-local'],
      ['meta-hex.example.com', route('meta-hex.example.com', 'http://0xa9.0xfe.0xa9.0xfe'), 'link-local'],
      ['meta-v6.example.com', route('meta-v6.example.com', 'http://[::ffff:169.254.169.254]'), 'link-local'],
      ['gce.example.com', route('gce.example.com', 'http://metadata.google.internal'), 'link-local'],
      ['self.example.com', route('self.example.com', 'http://localhost:2000'), 'loopback'],
      ['sock.example.com', route('sock.example.com', 'unix:/var/run/docker.sock'), 'unix'],
      ['bastion.example.com', route('bastion.example.com', 'bastion'), 'bastion'],
      [
        'socks.example.com',
        route('socks.example.com', 'http://web:80', { 'tunnelfleet.origin.proxyType': 'socks' }),
        'socks',
      ],
    ];
    await report(agent, [
      ...attacks.map(([, labels], index) => container(`attack-${index}`, labels)),
      container('honest', route('honest.example.com', 'http://web:80')),
    ]);
    await waitActive('honest.example.com');

    const routes = await routesOf(agent.agentId);
    for (const [hostname, , rule] of attacks) {
      const refused = routes.find((r) => r.hostname === hostname);
      expect(refused?.status, hostname).toBe('invalid');
      expect(refused?.statusMessage).toContain(
        `(rule "${rule}"; to allow it, create the agent's key with --allow-service ${rule})`,
      );
    }
    expect(routes.find((r) => r.hostname === 'meta-dec.example.com')?.statusMessage).toMatch(
      /^tunnelfleet\.service: "http:\/\/2852039166" is refused by the key's service policy: its host 169\.254\.169\.254 /,
    );
    expect(routes.find((r) => r.hostname === 'socks.example.com')?.statusMessage).toMatch(
      /^tunnelfleet\.origin\.proxyType: "socks" is refused/,
    );
    const attacked = new Set(attacks.map(([hostname]) => hostname));
    expect(records().filter((name) => attacked.has(name))).toEqual([]);
    expect(ingressServices().filter((rule) => attacked.has(rule.split(' ')[0]!))).toEqual([]);
  });

  it('publishes loopback for a key that allows it, and nothing else it did not open', async () => {
    const agent = await master().enrollAgent({
      name: 'loopback-key',
      servicePolicy: { allow: ['loopback'] },
    });
    await report(agent, [
      container('sidecar', route('local.example.com', 'http://localhost:8080')),
      container('still-meta', route('still-meta.example.com', 'http://169.254.169.254')),
    ]);
    await waitActive('local.example.com');
    expect(ingressServices()).toContain('local.example.com http://localhost:8080 {}');
    const routes = await routesOf(agent.agentId);
    expect(routes.find((r) => r.hostname === 'local.example.com')?.status).toBe('active');
    expect(routes.find((r) => r.hostname === 'still-meta.example.com')).toMatchObject({ status: 'invalid' });
    expect(records()).not.toContain('still-meta.example.com');
  });

  it("narrowed to the own container, publishes the container's names and addresses and nothing of another's", async () => {
    const agent = await master().enrollAgent({
      name: 'own-container',
      servicePolicy: { containerOnly: true },
    });
    const networks = { app: { ipAddress: '172.20.0.7', aliases: ['api-alias'] } };
    await report(agent, [
      container('api', route('own-name.example.com', 'http://api:80'), networks),
      container('api2', route('own-alias.example.com', 'http://api-alias:80'), {
        app: { ipAddress: '172.20.0.8', aliases: ['api-alias'] },
      }),
      container('api3', route('own-ip.example.com', 'tcp://172.20.0.9:5432'), {
        app: { ipAddress: '172.20.0.9', aliases: [] },
      }),
      container('thief', route('other.example.com', 'http://db:5432'), networks),
    ]);
    await waitActive('own-name.example.com');
    await waitActive('own-alias.example.com');
    await waitActive('own-ip.example.com');
    const other = (await routesOf(agent.agentId)).find((r) => r.hostname === 'other.example.com');
    expect(other?.status).toBe('invalid');
    expect(other?.statusMessage).toContain('its host db is not this container');
    expect(other?.statusMessage).toContain(
      '(rule "container-only"; this container: thief, api-alias, 172.20.0.7)',
    );
    expect(records()).not.toContain('other.example.com');
  });

  it('shows the policy on the key and refuses an unknown kind', async () => {
    const created = await master().admin('POST', '/keys', {
      name: 'shown',
      allowAnyHostname: true,
      servicePolicy: { allow: ['unix', 'socks'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.record.servicePolicy).toEqual({ allow: ['unix', 'socks'], containerOnly: false });
    const refused = await master().admin('POST', '/keys', {
      name: 'bad',
      allowAnyHostname: true,
      servicePolicy: { allow: ['everything'] },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('servicePolicy.allow');
  });
});
