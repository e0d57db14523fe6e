import { describe, expect, it } from 'vitest';
import { parseContainerLabels } from './parse-container-labels.js';
import {
  checkServicePolicy,
  DEFAULT_SERVICE_POLICY,
  type OwnContainer,
  type ServiceKind,
  type ServicePolicy,
} from './service-policy.js';

const web: OwnContainer = {
  name: '/web',
  networks: {
    front: { ipAddress: '172.18.0.5', aliases: ['web', 'www-alias'] },
    back: { ipAddress: '10.1.0.9', aliases: [] },
  },
};

function verdict(service: string, policy: ServicePolicy = DEFAULT_SERVICE_POLICY, originRequest = {}) {
  return checkServicePolicy({ service, originRequest }, policy, web);
}

const refusedByDefault: [string, ServiceKind][] = [
  // Cloud metadata and link-local, in every spelling a resolver accepts.
  ['http://169.254.169.254', 'link-local'],
  ['http://169.254.169.254:80', 'link-local'],
  ['http://169.254.169.254.', 'link-local'],
  ['http://2852039166', 'link-local'],
  ['http://0xa9fea9fe', 'link-local'],
  ['http://0xa9.0xfe.0xa9.0xfe', 'link-local'],
  ['http://0251.0376.0251.0376', 'link-local'],
  ['http://169.254.43518', 'link-local'],
  ['tcp://2852039166:22', 'link-local'],
  ['ssh://0xa9.0xfe.0xa9.0xfe:22', 'link-local'],
  ['http://[::ffff:169.254.169.254]', 'link-local'],
  ['http://[::ffff:a9fe:a9fe]:8080', 'link-local'],
  ['http://[0:0:0:0:0:ffff:169.254.169.254]', 'link-local'],
  ['http://[64:ff9b::169.254.169.254]', 'link-local'],
  ['http://[::ffff:0:169.254.169.254]', 'link-local'],
  ['http://[fe80::1]', 'link-local'],
  ['http://[FEBF::1]', 'link-local'],
  ['http://[fd00:ec2::254]', 'link-local'],
  ['http://100.100.100.200', 'link-local'],
  ['http://metadata.google.internal', 'link-local'],
  ['HTTP://METADATA.GOOGLE.INTERNAL.', 'link-local'],
  ['http://metadata', 'link-local'],
  ['http://%31%36%39.254.169.254', 'link-local'],
  // Loopback inside cloudflared's container is cloudflared itself.
  ['http://localhost:8080', 'loopback'],
  ['http://LOCALHOST.:8080', 'loopback'],
  ['http://app.localhost', 'loopback'],
  ['http://ip6-localhost', 'loopback'],
  ['http://127.0.0.1:2000', 'loopback'],
  ['http://127.1:2000', 'loopback'],
  ['http://2130706433', 'loopback'],
  ['http://0x7f000001', 'loopback'],
  ['http://0177.0.0.1', 'loopback'],
  ['http://127.255.255.254', 'loopback'],
  ['http://0.0.0.0:8080', 'loopback'],
  ['http://0:8080', 'loopback'],
  ['http://[::1]:8080', 'loopback'],
  ['http://[::]:8080', 'loopback'],
  ['http://[::ffff:127.0.0.1]', 'loopback'],
  ['http://[::127.0.0.1]', 'loopback'],
  ['tcp://localhost:5432', 'loopback'],
  // Whatever the agent host can reach.
  ['unix:/var/run/docker.sock', 'unix'],
  ['unix+tls:/run/app.sock', 'unix'],
  ['bastion', 'bastion'],
  ['BASTION', 'bastion'],
];

describe('service policy', () => {
  it.each(refusedByDefault)('refuses %s by default (rule %s)', (service, rule) => {
    const answer = verdict(service);
    expect(answer).toMatchObject({ allowed: false, rule });
    expect(answer.allowed || answer.reason).toContain(`--allow-service ${rule}`);
  });

  it.each(refusedByDefault)('publishes %s when the key allows %s', (service, rule) => {
    expect(verdict(service, { allow: [rule], containerOnly: false })).toEqual({ allowed: true });
  });

  it('refuses SOCKS proxying and bastion mode set as origin options', () => {
    expect(verdict('http://web:8080', DEFAULT_SERVICE_POLICY, { proxyType: 'socks' })).toMatchObject({
      allowed: false,
      rule: 'socks',
    });
    expect(verdict('http://web:8080', DEFAULT_SERVICE_POLICY, { bastionMode: true })).toMatchObject({
      allowed: false,
      rule: 'bastion',
    });
    expect(
      verdict('http://web:8080', { allow: ['socks'], containerOnly: false }, { proxyType: 'socks' }),
    ).toEqual({
      allowed: true,
    });
    expect(verdict('http://web:8080', DEFAULT_SERVICE_POLICY, { proxyType: '', bastionMode: false })).toEqual(
      {
        allowed: true,
      },
    );
  });

  it.each([
    'http://web:8080',
    'https://app.internal',
    'tcp://db:5432',
    'http://10.0.0.5:8080',
    'http://172.18.0.5',
    'http://169.255.0.1',
    'http://128.0.0.1',
    'http://[fd00::1]',
    'http://[fec0::1]',
    'http://[2001:db8::1]',
    'http://metadata-service:80',
    'http://localhost-proxy:80',
    'http://100.100.100.201',
    'hello_world',
    'http_status:404',
  ])('publishes %s by default', (service) => {
    expect(verdict(service)).toEqual({ allowed: true });
  });

  describe('narrowed to the container itself', () => {
    const containerOnly: ServicePolicy = { allow: [], containerOnly: true };

    it.each([
      'http://web:8080',
      'http://WEB:8080',
      'http://www-alias',
      'tcp://172.18.0.5:5432',
      'http://2886860805:80', // 172.18.0.5
      'http://10.1.0.9',
      'hello_world',
      'http_status:404',
    ])('publishes %s, one of its own names or addresses', (service) => {
      expect(verdict(service, containerOnly)).toEqual({ allowed: true });
    });

    it.each(['http://db:5432', 'http://10.0.0.5:8080', 'https://example.com'])(
      'refuses %s, another host',
      (service) => {
        const answer = verdict(service, containerOnly);
        expect(answer).toMatchObject({ allowed: false, rule: 'container-only' });
        expect(answer.allowed || answer.reason).toContain('this container: web, www-alias, 172.18.0.5');
      },
    );

    it('still refuses a dangerous kind the container claims as its own address', () => {
      const liar: OwnContainer = {
        name: 'x',
        networks: { n: { ipAddress: '169.254.169.254', aliases: [] } },
      };
      expect(
        checkServicePolicy({ service: 'http://169.254.169.254', originRequest: {} }, containerOnly, liar),
      ).toMatchObject({ allowed: false, rule: 'link-local' });
    });

    it('refuses every URL service when the container is unknown', () => {
      expect(checkServicePolicy({ service: 'http://web', originRequest: {} }, containerOnly)).toMatchObject({
        allowed: false,
        rule: 'container-only',
      });
    });
  });

  describe('in the label parser (one validator for the master and labels check)', () => {
    const labels = (extra: Record<string, string>) => ({
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'app.example.com',
      ...extra,
    });

    it('makes the route invalid with an error naming the service label, the rule and the way to open it', () => {
      const result = parseContainerLabels(labels({ 'tunnelfleet.service': 'http://2852039166' }), {
        servicePolicy: DEFAULT_SERVICE_POLICY,
      });
      expect(result.routes).toEqual([]);
      expect(result.invalidRoutes[0]?.problems.map((p) => p.message)).toEqual([
        'tunnelfleet.service: "http://2852039166" is refused by the key\'s service policy: its host 169.254.169.254 is a link-local address or cloud metadata endpoint (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, metadata.google.internal) (rule "link-local"; to allow it, create the agent\'s key with --allow-service link-local)',
      ]);
    });

    it('names the origin option that asked for SOCKS proxying', () => {
      const result = parseContainerLabels(
        labels({ 'tunnelfleet.service': 'http://web:80', 'tunnelfleet.origin.proxy_type': 'socks' }),
        { servicePolicy: DEFAULT_SERVICE_POLICY },
      );
      expect(result.invalidRoutes[0]?.problems[0]).toMatchObject({
        severity: 'error',
        label: 'tunnelfleet.origin.proxy_type',
        value: 'socks',
      });
    });

    it('judges the completed default service against the container itself', () => {
      const result = parseContainerLabels(labels({}), {
        containerName: '/web',
        exposedPorts: [8080],
        networks: web.networks,
        servicePolicy: { allow: [], containerOnly: true },
      });
      expect(result.routes.map((route) => route.service)).toEqual(['http://web:8080']);
    });

    it('checks only the syntax without a policy (the agent log, which cannot know its key)', () => {
      const result = parseContainerLabels(labels({ 'tunnelfleet.service': 'unix:/var/run/docker.sock' }));
      expect(result.routes.map((route) => route.service)).toEqual(['unix:/var/run/docker.sock']);
    });
  });
});
