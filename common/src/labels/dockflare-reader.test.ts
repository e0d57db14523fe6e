import { describe, expect, it } from 'vitest';
import { appLabels, expectedRoute } from '../../test/label-fixtures.js';
import { parseContainerLabels } from './parse-container-labels.js';
import type { ParsedRoute } from './types.js';

const on = { 'dockflare.enable': 'true' };
const base = appLabels('dockflare');
const route = expectedRoute('dockflare', 'dockflare');
const bypass = {
  namedPolicies: [],
  policy: { decision: 'bypass', include: [{ everyone: {} }], require: [], exclude: [] },
} as const;

describe('DockFlare labels map to routes', () => {
  const cases: [string, Record<string, string>, ParsedRoute[]][] = [
    ['hostname and service', base, [route()]],
    ['enable spelled t', { ...base, 'dockflare.enable': 'T' }, [route()]],
    [
      'legacy prefix',
      {
        'cloudflare.tunnel.enable': 'yes',
        'cloudflare.tunnel.hostname': 'app.example.com',
        'cloudflare.tunnel.service': 'http://web:8080',
      },
      [route()],
    ],
    [
      'prefixes mix key by key',
      {
        'dockflare.enable': '1',
        'cloudflare.tunnel.hostname': 'app.example.com',
        'dockflare.service': 'http://web:8080',
      },
      [route()],
    ],
    ['path is normalized', { ...base, 'dockflare.path': ' api/ ' }, [route({ path: '/api' })]],
    ['zonename', { ...base, 'dockflare.zonename': 'example.com' }, [route({ zone: 'example.com' })]],
    [
      'no_tls_verify',
      { ...base, 'dockflare.service': 'https://web:8443', 'dockflare.no_tls_verify': 'true' },
      [route({ service: 'https://web:8443', originRequest: { noTLSVerify: true } })],
    ],
    [
      'originsrvname',
      { ...base, 'dockflare.originsrvname': ' origin.internal ' },
      [route({ originRequest: { originServerName: 'origin.internal' } })],
    ],
    [
      'httpHostHeader',
      { ...base, 'dockflare.httpHostHeader': 'internal' },
      [route({ originRequest: { httpHostHeader: 'internal' } })],
    ],
    [
      'http2_origin',
      { ...base, 'dockflare.http2_origin': 'yes' },
      [route({ originRequest: { http2Origin: true } })],
    ],
    [
      'disable_chunked_encoding',
      { ...base, 'dockflare.disable_chunked_encoding': '1' },
      [route({ originRequest: { disableChunkedEncoding: true } })],
    ],
    [
      'match_sni_to_host',
      { ...base, 'dockflare.match_sni_to_host': 't' },
      [route({ originRequest: { matchSNItoHost: true } })],
    ],
    ['false flags are left out', { ...base, 'dockflare.no_tls_verify': 'false' }, [route()]],
    [
      'origin settings only for http(s)',
      { ...base, 'dockflare.service': 'tcp://db:5432', 'dockflare.no_tls_verify': 'true' },
      [route({ service: 'tcp://db:5432' })],
    ],
    ['bastion service', { ...base, 'dockflare.service': 'bastion' }, [route({ service: 'bastion' })]],
    [
      'access.policy=bypass',
      { ...base, 'dockflare.access.policy': 'bypass' },
      [route({ access: bypass as never })],
    ],
    [
      'access.policy=authenticate',
      { ...base, 'dockflare.access.policy': 'authenticate' },
      [route({ access: { namedPolicies: ['authenticated-default'] } })],
    ],
    [
      "access.policy=default_tld makes no app of its own: the zone's *.<zone> app guards it",
      { ...base, 'dockflare.access.policy': 'default_tld' },
      [route({ access: { namedPolicies: [], zoneDefault: true } })],
    ],
    [
      'access.policy=default_tld guards every path of the hostname, so an unanchored path is fine',
      { ...base, 'dockflare.access.policy': 'default_tld', 'dockflare.path': '/api' },
      [route({ path: '/api', access: { namedPolicies: [], zoneDefault: true } })],
    ],
    [
      'access.group',
      { ...base, 'dockflare.access.group': 'staff' },
      [route({ access: { namedPolicies: ['staff'] } })],
    ],
    [
      'access.groups beats access.group',
      { ...base, 'dockflare.access.group': 'x', 'dockflare.access.groups': 'staff, ,admins' },
      [route({ access: { namedPolicies: ['staff', 'admins'] } })],
    ],
    [
      'group bypass is the public group',
      { ...base, 'dockflare.access.group': 'bypass' },
      [route({ access: bypass as never })],
    ],
    [
      'label-driven app',
      {
        ...base,
        'dockflare.access.policy': 'custom',
        'dockflare.access.name': 'My App',
        'dockflare.access.session_duration': '8h',
        'dockflare.access.app_launcher_visible': 'true',
        'dockflare.access.allowed_idps': '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
        'dockflare.access.auto_redirect_to_identity': 'yes',
        'dockflare.access.custom_rules': '[{"name":"x","decision":"allow","include":[{"everyone":{}}]}]',
      },
      [
        route({
          access: {
            namedPolicies: [],
            inlinePolicies: [{ name: 'x', decision: 'allow', include: [{ everyone: {} }] }],
            appName: 'My App',
            sessionDuration: '8h',
            appLauncherVisible: true,
            allowedIdps: ['3f2504e0-4f89-41d3-9a0c-0305e82c3301'],
            autoRedirectToIdentity: true,
          },
        }),
      ],
    ],
  ];
  it.each(cases)('%s', (_name, labels, routes) => {
    const result = parseContainerLabels(labels);
    expect(result.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(result.enabled).toBe(true);
    expect(result.routes).toEqual(routes);
  });

  it('refuses Access on a path: DockFlare paths are unanchored regexes no Access domain covers', () => {
    const result = parseContainerLabels({
      ...base,
      'dockflare.path': '/admin/',
      'dockflare.access.policy': 'bypass',
    });
    expect(result.routes).toEqual([]);
    expect(result.problems.filter((p) => p.severity === 'error').map((p) => p.label)).toEqual([
      'dockflare.path',
    ]);
  });

  it('indexed routes fall back to every base key but hostname', () => {
    const result = parseContainerLabels({
      ...base,
      'dockflare.zonename': 'example.com',
      'dockflare.no_tls_verify': 'true',
      'dockflare.access.group': 'staff',
      'dockflare.0.hostname': 'a.example.com',
      'dockflare.1.hostname': 'b.example.com',
      'dockflare.1.service': 'http://b:80',
      'dockflare.1.access.policy': 'bypass',
      'dockflare.3.hostname': 'd.example.com',
    });
    const common = { zone: 'example.com', originRequest: { noTLSVerify: true } };
    expect(result.routes).toEqual([
      route({ ...common, access: { namedPolicies: ['staff'] } }),
      route({
        ...common,
        key: 'dockflare.0',
        hostname: 'a.example.com',
        access: { namedPolicies: ['staff'] },
      }),
      route({
        ...common,
        key: 'dockflare.1',
        hostname: 'b.example.com',
        service: 'http://b:80',
        access: bypass as never,
      }),
    ]);
    expect(result.problems.map((p) => p.message)).toContain(
      'dockflare.3.hostname: is ignored with its whole index: DockFlare stops at the first index without a hostname (index 2)',
    );
  });

  it('base and indexed labels on the same hostname and path: the last definition wins, as in DockFlare', () => {
    const result = parseContainerLabels({
      ...base,
      'dockflare.path': '/api',
      'dockflare.0.hostname': 'app.example.com',
      'dockflare.0.service': 'http://api:9000',
      'dockflare.1.hostname': 'app.example.com',
      'dockflare.1.path': '/other',
    });
    expect(result.routes.map((r) => [r.key, r.hostname, r.path, r.service])).toEqual([
      ['dockflare.0', 'app.example.com', '/api', 'http://api:9000'],
      ['dockflare.1', 'app.example.com', '/other', 'http://web:8080'],
    ]);
    expect(result.invalidRoutes).toEqual([]);
    expect(result.problems).toContainEqual(
      expect.objectContaining({
        severity: 'warning',
        route: 'dockflare.0',
        message:
          'dockflare.hostname: "app.example.com" is defined again by dockflare.0.hostname, whose definition wins, as in DockFlare',
      }),
    );
  });

  it('an index with an error does not stop the scan', () => {
    const result = parseContainerLabels({
      ...base,
      'dockflare.0.hostname': 'bad host',
      'dockflare.1.hostname': 'b.example.com',
    });
    expect(result.routes.map((r) => r.key)).toEqual(['dockflare', 'dockflare.1']);
    expect(result.invalidRoutes).toEqual([
      expect.objectContaining({ key: 'dockflare.0', hostname: 'bad host' }),
    ]);
  });

  it('DockFlare labels without enable are ignored, with a warning', () => {
    const result = parseContainerLabels({ 'dockflare.hostname': 'app.example.com' });
    expect(result.enabled).toBe(false);
    expect(result.problems.map((p) => p.message)).toEqual([
      'dockflare.enable: is not set, so the DockFlare labels are ignored, as DockFlare does',
    ]);
  });
});

describe('mixing label languages', () => {
  it('tunnelfleet wins on the same hostname and path; other routes add up', () => {
    const result = parseContainerLabels({
      ...base,
      'dockflare.0.hostname': 'b.example.com',
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'app.example.com',
      'tunnelfleet.service': 'http://web:9000',
    });
    expect(result.routes.map((r) => [r.key, r.hostname, r.service])).toEqual([
      ['default', 'app.example.com', 'http://web:9000'],
      ['dockflare.0', 'b.example.com', 'http://web:8080'],
    ]);
    expect(result.problems.map((p) => p.message)).toContain(
      'dockflare.hostname: "app.example.com" is ignored: "app.example.com" is also routed by the tunnelfleet route "default", which wins',
    );
  });

  it('tunnelfleet.enable=false switches off the peer labels too', () => {
    expect(parseContainerLabels({ ...base, 'tunnelfleet.enable': 'false' })).toEqual({
      enabled: false,
      routes: [],
      invalidRoutes: [],
      problems: [],
    });
  });
});

const invalid: [Record<string, string>, 'error' | 'warning', string][] = [
  [
    { ...base, 'dockflare.hostname': 'app_x.example.com' },
    'error',
    'dockflare.hostname: "app_x.example.com" is not a valid hostname (label "app_x" has the character "_" (only letters, digits and "-"))',
  ],
  [
    { ...base, 'dockflare.service': 'udp://dns:53' },
    'error',
    'dockflare.service: "udp://dns:53" uses udp, which cloudflared ingress rules do not support',
  ],
  [
    { ...base, 'dockflare.service': 'http://web:8080/x' },
    'error',
    'dockflare.service: "http://web:8080/x" has "/x" after the host; cloudflared forwards the request path unchanged, so a service has only scheme, host and port',
  ],
  [
    { ...base, 'dockflare.path': '/a(' },
    'error',
    'dockflare.path: "/a(" is not a valid regular expression (Unterminated group)',
  ],
  [
    { ...base, 'dockflare.zonename': 'other.org' },
    'error',
    'dockflare.zonename: "other.org" does not contain the hostname "app.example.com"',
  ],
  [
    { ...base, 'dockflare.originsrvname': 'a b' },
    'error',
    'dockflare.originsrvname: "a b" is not a valid hostname (label "a b" has a space)',
  ],
  [
    { ...base, 'dockflare.no_tls_verify': 'on' },
    'warning',
    'dockflare.no_tls_verify: "on" is read as false, as DockFlare does (true is true, 1, t, yes (anything else is false))',
  ],
  [
    { ...base, 'dockflare.enable': 'on' },
    'warning',
    'dockflare.enable: "on" is read as false, as DockFlare does (true is true, 1, t, yes (anything else is false))',
  ],
  [
    { ...base, 'dockflare.hostnme': 'x' },
    'warning',
    'dockflare.hostnme: is not a DockFlare key Tunnelfleet reads; ignored (did you mean "hostname"?)',
  ],
  [
    { ...base, 'dockflare.access.email': 'a@b.com' },
    'warning',
    'dockflare.access.email: is ignored: DockFlare never reads it either; use tunnelfleet.access.emails',
  ],
  [
    { ...base, 'dockflare.access.policy': 'x', 'dockflare.access.custom_rules': '{nope' },
    'error',
    'dockflare.access.custom_rules: "{nope" is not a JSON array of Access policy objects',
  ],
  [
    {
      ...base,
      'dockflare.access.policy': 'x',
      'dockflare.access.custom_rules':
        '[{"decision":"allow","include":[{"everyone":{}}]},{"decision":"let_in","include":[]}]',
    },
    'error',
    expect.stringMatching(
      /has policy #2, which has no decision Cloudflare knows \(allow, deny, bypass, non_identity\)$/,
    ),
  ],
  [
    {
      ...base,
      'dockflare.access.policy': 'x',
      'dockflare.access.custom_rules':
        '[{"decision":"allow","include":[{"email":{"email":"a@b.c"},"ip":{"ip":"1.2.3.4/32"}}]}]',
    },
    'error',
    expect.stringMatching(/has policy #1, which has a include that is not a list of one-selector rules$/),
  ],
  ...(
    [
      [
        '{"email":{"email":"not-an-address"}}',
        'email has "not-an-address", which is not an e-mail address (no "@")',
      ],
      ['{"email":{"address":"a@example.com"}}', 'email needs email as a non-empty string'],
      ['{"ip":{"ip":"10.0.0.1"}}', 'ip is not a CIDR block (e.g. 192.0.2.0/24)'],
      ['{"geo":{"country_code":"de"}}', 'geo is not a two-letter upper-case country code'],
      ['{"everyone":{"all":true}}', 'everyone takes an empty object'],
    ] as const
  ).map(
    ([rule, reason]) =>
      [
        {
          ...base,
          'dockflare.access.policy': 'x',
          'dockflare.access.custom_rules': `[{"decision":"allow","include":[{"everyone":{}}],"exclude":[${rule}]}]`,
        },
        'error',
        expect.stringMatching(
          new RegExp(
            `has policy #1, which has a exclude rule Cloudflare refuses: ${reason.replace(/[()]/g, '\\$&')}$`,
          ),
        ),
      ] as [Record<string, string>, 'error', string],
  ),
  [
    { ...base, 'dockflare.access.policy': 'x', 'dockflare.access.session_duration': 'long' },
    'error',
    'dockflare.access.session_duration: "long" is not a duration (use e.g. "30s", "1m30s", "2h" or a number of seconds)',
  ],
  [
    { ...base, 'dockflare.access.policy': 'x', 'dockflare.access.allowed_idps': 'github' },
    'error',
    'dockflare.access.allowed_idps: "github" has "github", which is not an identity provider id (a UUID)',
  ],
  [
    { ...base, 'dockflare.access.policy': 'x' },
    'warning',
    'dockflare.access.policy: "x" asks for an Access application without access.custom_rules: it has no policy and lets nobody in',
  ],
  [
    { ...base, 'dockflare.access.custom_rules': '[]' },
    'warning',
    'dockflare.access.custom_rules: "[]" is ignored: DockFlare reads it only with access.policy',
  ],
  [
    { ...base, 'dockflare.access.group': 'staff', 'dockflare.access.name': 'n' },
    'warning',
    'dockflare.access.name: "n" is ignored: with an access group DockFlare takes it from the group',
  ],
  [
    { ...base, 'cloudflare.tunnel.hostname': 'old.example.com' },
    'warning',
    'cloudflare.tunnel.hostname: "old.example.com" is ignored: dockflare.hostname is set and wins, as in DockFlare',
  ],
  [
    { ...base, 'dockflare.0.hostname': 'app.example.com' },
    'warning',
    'dockflare.hostname: "app.example.com" is defined again by dockflare.0.hostname, whose definition wins, as in DockFlare',
  ],
  [
    {
      ...base,
      'dockflare.access.policy': 'bypass',
      'dockflare.0.hostname': 'App.example.com',
      'dockflare.0.access.policy': '',
    },
    'error',
    'dockflare.0.hostname: "App.example.com" drops the Access that dockflare.hostname asks for on the same hostname and path: refused, so that it never turns public; give both definitions the same access.* labels',
  ],
  [
    { ...on, 'dockflare.service': 'http://web:80' },
    'error',
    'dockflare.hostname: is not set; every route needs a hostname',
  ],
  [
    { ...on, 'dockflare.hostname': 'app.example.com' },
    'error',
    'dockflare.service: is not set and the container name is unknown, so it cannot be completed',
  ],
];

describe('invalid DockFlare labels', () => {
  it.each(invalid)('%o → %s', (labels, severity, message) => {
    expect(parseContainerLabels(labels).problems.map((p) => [p.severity, p.message])).toContainEqual([
      severity,
      message,
    ]);
  });
});
