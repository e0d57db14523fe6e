import { describe, expect, it } from 'vitest';
import { appLabels, expectedRoute } from '../../test/label-fixtures.js';
import { parseContainerLabels } from './parse-container-labels.js';
import type { ParsedRoute } from './types.js';

const on = { 'tunnelfleet.enable': 'true' };
const base = appLabels('tunnelfleet');
const route = expectedRoute('default', 'tunnelfleet');

describe('tunnelfleet labels: every key', () => {
  const cases: [string, Record<string, string>, ParsedRoute[]][] = [
    ['hostname and service', base, [route()]],
    [
      'hostname is lower-cased and trimmed',
      { ...base, 'tunnelfleet.hostname': ' App.Example.COM ' },
      [route()],
    ],
    [
      'wildcard hostname',
      { ...base, 'tunnelfleet.hostname': '*.example.com' },
      [route({ hostname: '*.example.com' })],
    ],
    [
      'https service',
      { ...base, 'tunnelfleet.service': 'HTTPS://Web:8443/' },
      [route({ service: 'https://web:8443' })],
    ],
    [
      'tcp service',
      { ...base, 'tunnelfleet.service': 'tcp://db:5432' },
      [route({ service: 'tcp://db:5432' })],
    ],
    [
      'ssh service',
      { ...base, 'tunnelfleet.service': 'ssh://host:22' },
      [route({ service: 'ssh://host:22' })],
    ],
    [
      'rdp service',
      { ...base, 'tunnelfleet.service': 'rdp://10.0.0.5:3389' },
      [route({ service: 'rdp://10.0.0.5:3389' })],
    ],
    [
      'smb service',
      { ...base, 'tunnelfleet.service': 'smb://files:445' },
      [route({ service: 'smb://files:445' })],
    ],
    [
      'ipv6 service',
      { ...base, 'tunnelfleet.service': 'http://[::1]:80' },
      [route({ service: 'http://[::1]:80' })],
    ],
    [
      'unix service',
      { ...base, 'tunnelfleet.service': 'unix:/run/app.sock' },
      [route({ service: 'unix:/run/app.sock' })],
    ],
    [
      'unix+tls service',
      { ...base, 'tunnelfleet.service': 'unix+tls:///run/a.sock' },
      [route({ service: 'unix+tls:/run/a.sock' })],
    ],
    [
      'http_status service',
      { ...base, 'tunnelfleet.service': 'http_status:404' },
      [route({ service: 'http_status:404' })],
    ],
    [
      'hello_world service',
      { ...base, 'tunnelfleet.service': 'hello_world' },
      [route({ service: 'hello_world' })],
    ],
    ['bastion service', { ...base, 'tunnelfleet.service': 'bastion' }, [route({ service: 'bastion' })]],
    [
      'http without port keeps the default port',
      { ...base, 'tunnelfleet.service': 'http://web' },
      [route({ service: 'http://web' })],
    ],
    [
      'path regex',
      { ...base, 'tunnelfleet.path': '^/api/(v1|v2)/.*$' },
      [route({ path: '^/api/(v1|v2)/.*$' })],
    ],
    [
      'RE2-only syntax in path',
      { ...base, 'tunnelfleet.path': '(?i)^/(?P<x>a)\\z' },
      [route({ path: '(?i)^/(?P<x>a)\\z' })],
    ],
    ['empty path is no path', { ...base, 'tunnelfleet.path': '' }, [route()]],
    ['zone', { ...base, 'tunnelfleet.zone': 'Example.com' }, [route({ zone: 'example.com' })]],
    ['tunnel', { ...base, 'tunnelfleet.tunnel': 'shared-eu' }, [route({ tunnel: 'shared-eu' })]],
    ['dns off', { ...base, 'tunnelfleet.dns': 'false' }, [route({ dns: false })]],
    ['cleanup off', { ...base, 'tunnelfleet.cleanup': 'no' }, [route({ cleanup: false })]],
    ['enable spelled yes', { ...base, 'tunnelfleet.enable': 'YES' }, [route()]],
  ];
  it.each(cases)('%s', (_name, labels, routes) => {
    const result = parseContainerLabels(labels);
    expect(result.problems).toEqual([]);
    expect(result.enabled).toBe(true);
    expect(result.routes).toEqual(routes);
  });
});

describe('tunnelfleet origin.* keys', () => {
  const cases: [string, string, unknown][] = [
    ['connectTimeout', '30s', { connectTimeout: 30 }],
    ['connect_timeout', '1m30s', { connectTimeout: 90 }],
    ['tlsTimeout', '10', { tlsTimeout: 10 }],
    ['tls_timeout', '1.5m', { tlsTimeout: 90 }],
    ['tcpKeepAlive', '2m', { tcpKeepAlive: 120 }],
    ['tcp_keep_alive', '1h', { tcpKeepAlive: 3600 }],
    ['noHappyEyeballs', 'true', { noHappyEyeballs: true }],
    ['no_happy_eyeballs', 'off', { noHappyEyeballs: false }],
    ['keepAliveConnections', '100', { keepAliveConnections: 100 }],
    ['keep_alive_connections', '1', { keepAliveConnections: 1 }],
    ['keepAliveTimeout', '90s', { keepAliveTimeout: 90 }],
    ['keep_alive_timeout', '1500ms', undefined],
    ['httpHostHeader', 'internal.local:8080', { httpHostHeader: 'internal.local:8080' }],
    ['http_host_header', 'app', { httpHostHeader: 'app' }],
    ['originServerName', 'Origin.Internal', { originServerName: 'origin.internal' }],
    ['origin_server_name', 'localhost', { originServerName: 'localhost' }],
    ['matchSNIToHost', 'true', { matchSNItoHost: true }],
    ['matchSNItoHost', '1', { matchSNItoHost: true }],
    ['match_sni_to_host', 'yes', { matchSNItoHost: true }],
    ['caPool', '/etc/ssl/ca.pem', { caPool: '/etc/ssl/ca.pem' }],
    ['ca_pool', '/ca.pem', { caPool: '/ca.pem' }],
    ['noTLSVerify', 'true', { noTLSVerify: true }],
    ['no_tls_verify', 'false', { noTLSVerify: false }],
    ['disableChunkedEncoding', 'true', { disableChunkedEncoding: true }],
    ['disable_chunked_encoding', 'on', { disableChunkedEncoding: true }],
    ['bastionMode', 'true', { bastionMode: true }],
    ['bastion_mode', '0', { bastionMode: false }],
    ['proxyAddress', '127.0.0.1', { proxyAddress: '127.0.0.1' }],
    ['proxy_address', '::1', { proxyAddress: '::1' }],
    ['proxyPort', '0', { proxyPort: 0 }],
    ['proxy_port', '65535', { proxyPort: 65535 }],
    ['proxyType', 'SOCKS', { proxyType: 'socks' }],
    ['proxy_type', '', { proxyType: '' }],
    ['http2Origin', 'true', { http2Origin: true }],
    ['http2_origin', 'true', { http2Origin: true }],
    [
      'ipRules',
      '[{"prefix":"10.0.0.0/8","ports":[80,443],"allow":true},{"prefix":"::","allow":false}]',
      {
        ipRules: [
          { prefix: '10.0.0.0/8', ports: [80, 443], allow: true },
          { prefix: '::/128', ports: [], allow: false },
        ],
      },
    ],
  ];
  it.each(cases.filter(([, , expected]) => expected !== undefined))(
    'origin.%s=%s',
    (key, value, expected) => {
      const result = parseContainerLabels({ ...base, [`tunnelfleet.origin.${key}`]: value });
      expect(result.problems).toEqual([]);
      expect(result.routes[0]?.originRequest).toEqual(expected);
    },
  );

  it('origin.access.* builds the access block', () => {
    const tag = 'a'.repeat(64);
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.origin.access.required': 'true',
      'tunnelfleet.origin.access.team_name': 'myteam',
      'tunnelfleet.origin.access.audTag': `${tag}, ${'b'.repeat(64)}`,
    });
    expect(result.problems).toEqual([]);
    expect(result.routes[0]?.originRequest).toEqual({
      access: { required: true, teamName: 'myteam', audTag: [tag, 'b'.repeat(64)] },
    });
  });
});

describe('tunnelfleet access.* keys', () => {
  const token = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
  const cases: [string, Record<string, string>, unknown][] = [
    [
      'emails and domains',
      { 'access.emails': 'A@Example.com, b@example.com', 'access.email_domains': '@corp.example' },
      {
        namedPolicies: [],
        policy: {
          decision: 'allow',
          include: [
            { email: { email: 'a@example.com' } },
            { email: { email: 'b@example.com' } },
            { email_domain: { domain: 'corp.example' } },
          ],
          require: [],
          exclude: [],
        },
      },
    ],
    [
      'bypass for everyone',
      { 'access.policy': 'bypass' },
      {
        namedPolicies: [],
        policy: { decision: 'bypass', include: [{ everyone: {} }], require: [], exclude: [] },
      },
    ],
    [
      'deny everyone',
      { 'access.policy': 'deny', 'access.everyone': 'true' },
      {
        namedPolicies: [],
        policy: { decision: 'deny', include: [{ everyone: {} }], require: [], exclude: [] },
      },
    ],
    [
      'service tokens default to service_auth',
      { 'access.service_tokens': `${token},any` },
      {
        namedPolicies: [],
        policy: {
          decision: 'non_identity',
          include: [{ service_token: { token_id: token } }, { any_valid_service_token: {} }],
          require: [],
          exclude: [],
        },
      },
    ],
    [
      'explicit service_auth',
      { 'access.policy': 'service_auth', 'access.service_tokens': token },
      {
        namedPolicies: [],
        policy: {
          decision: 'non_identity',
          include: [{ service_token: { token_id: token } }],
          require: [],
          exclude: [],
        },
      },
    ],
    [
      'groups, ip ranges, countries, login methods, certificate; require and exclude',
      {
        'access.groups': token,
        'access.ip_ranges': '10.0.0.0/8, 192.168.1.1',
        'access.countries': 'de,fr',
        'access.login_methods': token,
        'access.certificate': 'true',
        'access.require.countries': 'DE',
        'access.exclude.emails': 'bad@example.com',
      },
      {
        namedPolicies: [],
        policy: {
          decision: 'allow',
          include: [
            { group: { id: token } },
            { ip: { ip: '10.0.0.0/8' } },
            { ip: { ip: '192.168.1.1/32' } },
            { geo: { country_code: 'DE' } },
            { geo: { country_code: 'FR' } },
            { login_method: { id: token } },
            { certificate: {} },
          ],
          require: [{ geo: { country_code: 'DE' } }],
          exclude: [{ email: { email: 'bad@example.com' } }],
        },
      },
    ],
    [
      'app settings and a named policy',
      {
        'access.named_policy': 'staff, admins',
        'access.app_name': 'My App',
        'access.session_duration': '12h',
        'access.app_launcher_visible': 'true',
        'access.auto_redirect_to_identity': 'false',
        'access.allowed_idps': token,
      },
      {
        namedPolicies: ['staff', 'admins'],
        appName: 'My App',
        sessionDuration: '12h',
        appLauncherVisible: true,
        autoRedirectToIdentity: false,
        allowedIdps: [token],
      },
    ],
    [
      'session duration in seconds',
      { 'access.named_policy': 'staff', 'access.sessionDuration': '3600' },
      { namedPolicies: ['staff'], sessionDuration: '3600s' },
    ],
  ];
  it.each(cases)('%s', (_name, access, expected) => {
    const labels = {
      ...base,
      ...Object.fromEntries(Object.entries(access).map(([k, v]) => [`tunnelfleet.${k}`, v])),
    };
    const result = parseContainerLabels(labels);
    expect(result.problems).toEqual([]);
    expect(result.routes[0]?.access).toEqual(expected);
  });
});

describe('tunnelfleet access: public on purpose, and paths Access can cover', () => {
  const errorsOf = (labels: Record<string, string>) =>
    parseContainerLabels({ ...base, ...labels })
      .problems.filter((p) => p.severity === 'error')
      .map((p) => `${p.label}: ${p.message}`);

  it('access.public=true marks the route public and builds no Access', () => {
    const result = parseContainerLabels({ ...base, 'tunnelfleet.access.public': 'true' });
    expect(result.problems).toEqual([]);
    expect(result.routes[0]).toMatchObject({ public: true });
    expect(result.routes[0]?.access).toBeUndefined();
  });

  it('access.public does not combine with Access rules', () => {
    expect(
      errorsOf({ 'tunnelfleet.access.public': 'true', 'tunnelfleet.access.emails': 'a@example.com' }),
    ).toEqual([expect.stringMatching(/^tunnelfleet\.access\.public: .*cannot be combined/)]);
  });

  it.each([['^/(admin|api)'], ['/admin'], ['\\.php$'], ['^/v1.0']])(
    'refuses Access on the path %s, which no application domain covers exactly',
    (path) => {
      expect(errorsOf({ 'tunnelfleet.path': path, 'tunnelfleet.access.emails': 'a@example.com' })).toEqual([
        expect.stringMatching(/^tunnelfleet\.path: .*no Access application domain \(a path prefix\)/),
      ]);
    },
  );

  it.each([['^/admin'], ['^/admin/'], ['^/admin$']])('accepts Access on the literal prefix %s', (path) => {
    expect(errorsOf({ 'tunnelfleet.path': path, 'tunnelfleet.access.emails': 'a@example.com' })).toEqual([]);
  });

  it('refuses bypass mixed with identity selectors, which a bypass cannot check', () => {
    expect(
      errorsOf({ 'tunnelfleet.access.policy': 'bypass', 'tunnelfleet.access.emails': 'a@example.com' }),
    ).toEqual([
      expect.stringMatching(/^tunnelfleet\.access\.policy: .*mixes the decision "bypass".*\(email\)/),
    ]);
    expect(
      errorsOf({ 'tunnelfleet.access.policy': 'bypass', 'tunnelfleet.access.ip_ranges': '10.0.0.0/8' }),
    ).toEqual([]);
  });

  it('leaves any path regex alone on a route without Access', () => {
    expect(errorsOf({ 'tunnelfleet.path': '^/(admin|api)' })).toEqual([]);
  });
});

describe('tunnelfleet named routes', () => {
  it('named routes inherit service, zone, tunnel, dns, cleanup, origin and access from the base keys', () => {
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.zone': 'example.com',
      'tunnelfleet.tunnel': 'shared',
      'tunnelfleet.dns': 'false',
      'tunnelfleet.cleanup': 'false',
      'tunnelfleet.path': '^/web',
      'tunnelfleet.origin.noTLSVerify': 'true',
      'tunnelfleet.origin.connectTimeout': '5s',
      'tunnelfleet.access.policy': 'bypass',
      'tunnelfleet.api.hostname': 'api.example.com',
      'tunnelfleet.api.origin.connectTimeout': '10s',
      'tunnelfleet.admin-2.hostname': 'admin.example.com',
      'tunnelfleet.admin-2.service': 'http://admin:9000',
      'tunnelfleet.admin-2.access.emails': 'boss@example.com',
    });
    expect(result.problems).toEqual([]);
    const shared = { zone: 'example.com', tunnel: 'shared', dns: false, cleanup: false };
    const bypass = {
      namedPolicies: [],
      policy: { decision: 'bypass', include: [{ everyone: {} }], require: [], exclude: [] },
    };
    expect(result.routes).toEqual([
      route({
        ...shared,
        path: '^/web',
        originRequest: { noTLSVerify: true, connectTimeout: 5 },
        access: bypass as never,
      }),
      route({
        ...shared,
        key: 'api',
        hostname: 'api.example.com',
        originRequest: { noTLSVerify: true, connectTimeout: 10 },
        access: bypass as never,
      }),
      route({
        ...shared,
        key: 'admin-2',
        hostname: 'admin.example.com',
        service: 'http://admin:9000',
        originRequest: { noTLSVerify: true, connectTimeout: 5 },
        access: {
          namedPolicies: [],
          policy: {
            decision: 'allow',
            include: [{ email: { email: 'boss@example.com' } }],
            require: [],
            exclude: [],
          },
        },
      }),
    ]);
  });

  it('only named routes: the base keys are defaults, no base route', () => {
    const result = parseContainerLabels({
      ...on,
      'tunnelfleet.service': 'http://web:80',
      'tunnelfleet.a.hostname': 'a.example.com',
    });
    expect(result.routes).toEqual([route({ key: 'a', hostname: 'a.example.com', service: 'http://web:80' })]);
  });

  it('a service is completed from the single exposed port', () => {
    const context = { containerName: '/Web', exposedPorts: [8080] };
    expect(
      parseContainerLabels({ ...on, 'tunnelfleet.hostname': 'app.example.com' }, context).routes,
    ).toEqual([route()]);
    expect(
      parseContainerLabels(
        { ...on, 'tunnelfleet.hostname': 'app.example.com', 'tunnelfleet.service': 'https://web' },
        context,
      ).routes[0]?.service,
    ).toBe('https://web:8080');
  });

  it('enable=false switches the container off without problems', () => {
    expect(
      parseContainerLabels({ ...base, 'tunnelfleet.enable': 'false', 'tunnelfleet.hostname': 'bad host' }),
    ).toEqual({
      enabled: false,
      routes: [],
      invalidRoutes: [],
      problems: [],
    });
  });

  it('no labels: not enabled, nothing to say', () => {
    expect(parseContainerLabels({ 'com.docker.compose.project': 'x' })).toEqual({
      enabled: false,
      routes: [],
      invalidRoutes: [],
      problems: [],
    });
  });
});
