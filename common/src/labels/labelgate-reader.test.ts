import { describe, expect, it } from 'vitest';
import { expectedRoute } from '../../test/label-fixtures.js';
import { parseContainerLabels } from './parse-container-labels.js';
import type { ParsedRoute } from './types.js';

const web = {
  'labelgate.tunnel.web.hostname': 'app.example.com',
  'labelgate.tunnel.web.service': 'http://web:8080',
};
const route = expectedRoute('labelgate.web', 'labelgate');
const lg = (key: string, value: string) => ({ ...web, [`labelgate.${key}`]: value });

describe('Labelgate labels map to routes', () => {
  const cases: [string, Record<string, string>, ParsedRoute[]][] = [
    ['hostname and service, no enable switch', web, [route()]],
    ['path', lg('tunnel.web.path', '^/api'), [route({ path: '^/api' })]],
    ['tunnel', lg('tunnel.web.tunnel', 'edge'), [route({ tunnel: 'edge' })]],
    ['tunnel "default" is the agent\'s own', lg('tunnel.web.tunnel', 'default'), [route()]],
    ['tunnel.default.tunnel', lg('tunnel.default.tunnel', 'edge'), [route({ tunnel: 'edge' })]],
    ['cleanup off', lg('tunnel.web.cleanup', 'off'), [route({ cleanup: false })]],
    ['tunnel.default.cleanup', lg('tunnel.default.cleanup', 'no'), [route({ cleanup: false })]],
    ['credential default', lg('tunnel.web.credential', 'default'), [route()]],
    [
      'origin.connect_timeout',
      lg('tunnel.web.origin.connect_timeout', '1m30s'),
      [route({ originRequest: { connectTimeout: 90 } })],
    ],
    [
      'origin.tls_timeout',
      lg('tunnel.web.origin.tls_timeout', '10'),
      [route({ originRequest: { tlsTimeout: 10 } })],
    ],
    [
      'origin.tcp_keepalive',
      lg('tunnel.web.origin.tcp_keepalive', '30s'),
      [route({ originRequest: { tcpKeepAlive: 30 } })],
    ],
    [
      'origin.keep_alive_connections',
      lg('tunnel.web.origin.keep_alive_connections', '50'),
      [route({ originRequest: { keepAliveConnections: 50 } })],
    ],
    [
      'origin.keep_alive_timeout',
      lg('tunnel.web.origin.keep_alive_timeout', '90s'),
      [route({ originRequest: { keepAliveTimeout: 90 } })],
    ],
    [
      'origin.no_tls_verify',
      lg('tunnel.web.origin.no_tls_verify', 'on'),
      [route({ originRequest: { noTLSVerify: true } })],
    ],
    [
      'origin.origin_server_name',
      lg('tunnel.web.origin.origin_server_name', 'o.internal'),
      [route({ originRequest: { originServerName: 'o.internal' } })],
    ],
    [
      'origin.ca_pool',
      lg('tunnel.web.origin.ca_pool', '/ca.pem'),
      [route({ originRequest: { caPool: '/ca.pem' } })],
    ],
    [
      'origin.http_host_header',
      lg('tunnel.web.origin.http_host_header', 'h'),
      [route({ originRequest: { httpHostHeader: 'h' } })],
    ],
    [
      'origin.no_happy_eyeballs',
      lg('tunnel.web.origin.no_happy_eyeballs', 'yes'),
      [route({ originRequest: { noHappyEyeballs: true } })],
    ],
    [
      'origin.disable_chunked_encoding',
      lg('tunnel.web.origin.disable_chunked_encoding', '1'),
      [route({ originRequest: { disableChunkedEncoding: true } })],
    ],
    [
      'origin.proxy_type',
      lg('tunnel.web.origin.proxy_type', 'socks'),
      [route({ originRequest: { proxyType: 'socks' } })],
    ],
    ['zero duration is unset', lg('tunnel.web.origin.connect_timeout', '0s'), [route()]],
    ['zero connections is unset', lg('tunnel.web.origin.keep_alive_connections', '0'), [route()]],
    ['bad boolean origin is false', lg('tunnel.web.origin.no_tls_verify', 'maybe'), [route()]],
  ];
  it.each(cases)('%s', (_name, labels, routes) => {
    const result = parseContainerLabels(labels);
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(result.enabled).toBe(true);
    expect(result.routes).toEqual(routes);
  });

  it('empty origin values are unset, as in Labelgate, without a problem', () => {
    const labels: Record<string, string> = { ...web };
    for (const property of [
      'connect_timeout',
      'keep_alive_connections',
      'origin_server_name',
      'ca_pool',
      'http_host_header',
      'proxy_type',
      'no_tls_verify',
    ]) {
      labels[`labelgate.tunnel.web.origin.${property}`] = property === 'ca_pool' ? '  ' : '';
    }
    const result = parseContainerLabels(labels);
    expect(result.problems).toEqual([]);
    expect(result.routes).toEqual([route()]);
  });

  it('access definitions bound with access=<name>', () => {
    const token = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    const result = parseContainerLabels({
      ...web,
      'labelgate.tunnel.web.access': 'staff',
      'labelgate.access.staff.app_name': 'Staff app',
      'labelgate.access.staff.session_duration': '12h',
      'labelgate.access.staff.policy.name': 'staff-only',
      'labelgate.access.staff.policy.decision': 'block',
      'labelgate.access.staff.policy.include.emails': 'a@example.com, b@example.com',
      'labelgate.access.staff.policy.include.emails_ending_in': '@corp.example',
      'labelgate.access.staff.policy.include.ip_ranges': '10.0.0.0/8',
      'labelgate.access.staff.policy.include.country': 'de',
      'labelgate.access.staff.policy.include.everyone': '',
      'labelgate.access.staff.policy.include.service_token': token,
      'labelgate.access.staff.policy.include.access_groups': token,
      'labelgate.access.staff.policy.require.certificate': 'x',
      'labelgate.access.staff.policy.exclude.login_methods': token,
    });
    expect(result.problems).toEqual([]);
    expect(result.routes[0]?.access).toEqual({
      namedPolicies: [],
      appName: 'Staff app',
      sessionDuration: '12h',
      policy: {
        name: 'staff-only',
        decision: 'deny',
        include: [
          { email: { email: 'a@example.com' } },
          { email: { email: 'b@example.com' } },
          { email_domain: { domain: 'corp.example' } },
          { ip: { ip: '10.0.0.0/8' } },
          { geo: { country_code: 'DE' } },
          { everyone: {} },
          { service_token: { token_id: token } },
          { group: { id: token } },
        ],
        require: [{ certificate: {} }],
        exclude: [{ login_method: { id: token } }],
      },
    });
  });

  it('decisions map to API values', () => {
    for (const [written, decision] of [
      ['allow', 'allow'],
      ['BLOCK', 'deny'],
      ['bypass', 'bypass'],
      ['service_auth', 'non_identity'],
    ]) {
      const result = parseContainerLabels({
        ...web,
        'labelgate.tunnel.web.access': 'p',
        'labelgate.access.p.policy.decision': written!,
        'labelgate.access.p.policy.include.everyone': 'true',
      });
      expect(result.routes[0]?.access?.policy?.decision).toBe(decision);
    }
  });

  it('an access definition found nowhere becomes a named policy on the master', () => {
    const result = parseContainerLabels(lg('tunnel.web.access', 'shared'));
    expect(result.routes[0]?.access).toEqual({ namedPolicies: ['shared'] });
    expect(result.problems.map((p) => p.message)).toEqual([
      'labelgate.tunnel.web.access: "shared" names an access definition not on this container: it is read as the policy "shared" defined on the master',
    ]);
  });

  it('several services give several routes; dns services are reported, not routed', () => {
    const result = parseContainerLabels({
      ...web,
      'labelgate.tunnel.api.hostname': 'api.example.com',
      'labelgate.tunnel.api.service': 'http://api:80',
      'labelgate.dns.mail.hostname': 'mail.example.com',
      'labelgate.dns.mail.type': 'MX',
    });
    expect(result.routes.map((r) => r.key).sort()).toEqual(['labelgate.api', 'labelgate.web']);
    expect(result.problems.map((p) => p.message)).toEqual([
      'labelgate.dns.mail.hostname: is ignored: Labelgate DNS service "mail" manages a plain DNS record, which Tunnelfleet does not support',
    ]);
  });
});

const invalid: [Record<string, string>, 'error' | 'warning', string][] = [
  [
    lg('tunnel.web.hostname', 'bad host'),
    'error',
    'labelgate.tunnel.web.hostname: "bad host" is not a valid hostname (label "bad host" has a space)',
  ],
  [
    lg('tunnel.web.service', 'udp://x:53'),
    'error',
    'labelgate.tunnel.web.service: "udp://x:53" uses udp, which cloudflared ingress rules do not support',
  ],
  [
    lg('tunnel.web.path', '(?=x)'),
    'error',
    'labelgate.tunnel.web.path: "(?=x)" uses a lookahead "(?=", which cloudflared\'s Go regular expressions (RE2) do not support',
  ],
  [
    lg('tunnel.web.tunnel', 'a b'),
    'error',
    'labelgate.tunnel.web.tunnel: "a b" is not a tunnel name (letters, digits, "._-", at most 64)',
  ],
  [
    lg('tunnel.web.origin.connect_timeout', 'soon'),
    'error',
    'labelgate.tunnel.web.origin.connect_timeout: "soon" is not a duration (use e.g. "30s", "1m30s", "2h" or a number of seconds)',
  ],
  [
    lg('tunnel.web.origin.proxy_type', 'http'),
    'error',
    'labelgate.tunnel.web.origin.proxy_type: "http" is not a proxy type (use "socks" or leave empty)',
  ],
  [
    lg('tunnel.web.origin.no_tls_verify', 'maybe'),
    'warning',
    'labelgate.tunnel.web.origin.no_tls_verify: "maybe" is not a boolean (use true/false, yes/no, on/off, 1/0); read as false',
  ],
  [
    lg('tunnel.web.origin.conect_timeout', '5s'),
    'warning',
    'labelgate.tunnel.web.origin.conect_timeout: is not a Labelgate property Tunnelfleet reads; ignored (did you mean "labelgate.tunnel.web.origin.connectTimeout"?)',
  ],
  [
    lg('tunnel.web.origin.connect_timeout', '0'),
    'warning',
    'labelgate.tunnel.web.origin.connect_timeout: "0" is ignored: Labelgate leaves zero (or negative) values unset',
  ],
  [
    lg('tunnel.web.cleanup', 'maybe'),
    'warning',
    'labelgate.tunnel.web.cleanup: "maybe" is not a boolean (true/false, yes/no, on/off, 1/0); the default true is kept, as in Labelgate',
  ],
  [
    lg('tunnel.web.credential', 'other'),
    'warning',
    'labelgate.tunnel.web.credential: "other" is ignored: the master picks the Cloudflare token by the hostname\'s zone',
  ],
  [
    lg('tunnel.web.hostnam', 'x'),
    'warning',
    'labelgate.tunnel.web.hostnam: is not a Labelgate property Tunnelfleet reads; ignored (did you mean "labelgate.tunnel.web.hostname"?)',
  ],
  [
    lg('tunnel.Web.hostname', 'x.example.com'),
    'error',
    'labelgate.tunnel.Web.hostname: is ignored: the service name "Web" is not lower-case letters, digits and inner "-" (at most 63), as Labelgate refuses it too',
  ],
  [
    lg('tunnel.path.hostname', 'x.example.com'),
    'error',
    'labelgate.tunnel.path.hostname: is ignored: the service name "path" is a reserved word, as Labelgate refuses it too',
  ],
  [
    lg('tunel.web.hostname', 'x.example.com'),
    'warning',
    'labelgate.tunel.web.hostname: is ignored: "tunel" is not a Labelgate type (did you mean "tunnel"?)',
  ],
  [
    lg('enable', 'true'),
    'warning',
    'labelgate.enable: is ignored: not a Labelgate key (labelgate.<type>.<service>.<property>)',
  ],
  [
    lg('tunnel.default.path', '/x'),
    'warning',
    'labelgate.tunnel.default.path: "/x" is ignored: tunnel.default only sets tunnel, credential, cleanup',
  ],
  [
    { 'labelgate.tunnel.web.hostname': 'app.example.com' },
    'error',
    'labelgate.tunnel.web.service: is not set and the container name is unknown, so it cannot be completed',
  ],
  [
    { 'labelgate.tunnel.web.service': 'http://web:80' },
    'error',
    'labelgate.tunnel.web.hostname: is not set; every route needs a hostname',
  ],
  [
    { ...lg('tunnel.web.access', 'p'), 'labelgate.access.p.policy.decision': 'maybe' },
    'error',
    'labelgate.access.p.policy.decision: "maybe" is not an Access decision (use allow, deny, bypass or service_auth)',
  ],
  [
    { ...lg('tunnel.web.access', 'p'), 'labelgate.access.p.policy.decision': 'allow' },
    'error',
    'labelgate.access.p.policy.decision: needs at least one include rule for the decision "allow" (e.g. emails, email_domains, everyone)',
  ],
  [
    { ...lg('tunnel.web.access', 'p'), 'labelgate.access.p.policy.include.mails': 'a@b.com' },
    'error',
    'labelgate.access.p.policy.include.mails: "a@b.com" has an unknown selector "mails" (did you mean "emails"?)',
  ],
  [
    { ...lg('tunnel.web.access', 'p'), 'labelgate.access.p.policy.include.emails': '' },
    'error',
    'labelgate.access.p.policy.include.emails: "" is empty (expected a comma-separated list of e-mail addresses)',
  ],
  [
    { ...lg('tunnel.web.access', 'p'), 'labelgate.access.p.policy.include.country': 'DEU' },
    'error',
    'labelgate.access.p.policy.include.country: "DEU" has "DEU", which is not a two-letter country code',
  ],
  [
    {
      ...lg('tunnel.web.access', 'p'),
      'labelgate.access.p.policy.include.everyone': '',
      'labelgate.access.p.session_duration': '-1h',
    },
    'error',
    'labelgate.access.p.session_duration: "-1h" is negative',
  ],
  [
    {
      ...lg('tunnel.web.access', 'p'),
      'labelgate.access.p.policy.include.everyone': '',
      'labelgate.access.p.color': 'red',
    },
    'warning',
    'labelgate.access.p.color: is not a Labelgate property Tunnelfleet reads; ignored',
  ],
  [
    { ...web, 'labelgate.access.q.policy.include.everyone': '' },
    'warning',
    'labelgate.access.q.policy.include.everyone: is not used: no labelgate.tunnel.<service>.access=q on this container binds it',
  ],
  [
    { ...web, 'labelgate.access.default.app_name': 'x' },
    'warning',
    'labelgate.access.default.app_name: "x" is ignored, as Labelgate does',
  ],
  [
    {
      ...web,
      'labelgate.tunnel.api.hostname': 'APP.example.com',
      'labelgate.tunnel.api.service': 'http://a:1',
    },
    'error',
    'labelgate.tunnel.api.hostname: "APP.example.com" is a duplicate: "app.example.com" is already routed by route "labelgate.web" on this container',
  ],
];

describe('invalid Labelgate labels', () => {
  it.each(invalid)('%o → %s', (labels, severity, message) => {
    const result = parseContainerLabels(labels);
    expect(result.problems.map((p) => [p.severity, p.message])).toContainEqual([severity, message]);
    if (severity === 'error' && message.includes('access.p.')) {
      // A route bound to a broken access definition is not published without its protection.
      expect(result.routes).toEqual([]);
    }
  });
});
