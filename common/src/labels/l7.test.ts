import { describe, expect, it } from 'vitest';
import { appLabels, expectedRoute } from '../../test/label-fixtures.js';
import { type GatewayL7, gatewayRouteSchema } from '../gateway/routing-table.js';
import { parseContainerLabels } from './parse-container-labels.js';
import { DEFAULT_SERVICE_POLICY } from './service-policy.js';

const base = appLabels('tunnelfleet');
const route = expectedRoute('default', 'tunnelfleet');
const messages = (labels: Record<string, string>, context = {}) =>
  parseContainerLabels({ ...base, ...labels }, context).problems.map((p) => `${p.severity} ${p.message}`);

describe('routing labels (match, weight, filters, mirror)', () => {
  it('reads every key into ParsedRoute.l7, in the gateway route’s own shape', () => {
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.match.method': 'post',
      'tunnelfleet.match.header.X-Env': 'canary',
      'tunnelfleet.match.header_regex.X-User': '^admin-[0-9]+$',
      'tunnelfleet.match.query.version': '2',
      'tunnelfleet.match.query_regex.beta': '^(yes|1)$',
      'tunnelfleet.weight': '10',
      'tunnelfleet.filter.request_header.set.X-Tenant': 'blue',
      'tunnelfleet.filter.request_header.add.X-Tag': 'gw',
      'tunnelfleet.filter.request_header.remove': 'X-Secret, x-debug',
      'tunnelfleet.filter.response_header.set.Strict-Transport-Security': 'max-age=600',
      'tunnelfleet.filter.response_header.remove': 'x-powered-by',
      'tunnelfleet.filter.rewrite.hostname': 'internal.local',
      'tunnelfleet.filter.rewrite.path_prefix': '/v2',
      'tunnelfleet.mirror': 'http://shadow:8080',
    });
    expect(result.problems).toEqual([]);
    const l7: GatewayL7 = {
      match: {
        method: 'POST',
        headers: [
          { name: 'x-env', type: 'exact', value: 'canary' },
          { name: 'x-user', type: 'regex', value: '^admin-[0-9]+$' },
        ],
        query: [
          { name: 'version', type: 'exact', value: '2' },
          { name: 'beta', type: 'regex', value: '^(yes|1)$' },
        ],
      },
      weight: 10,
      filters: {
        mirror: { url: 'http://shadow:8080' },
        requestHeaders: {
          set: [{ name: 'x-tenant', value: 'blue' }],
          add: [{ name: 'x-tag', value: 'gw' }],
          remove: ['x-secret', 'x-debug'],
        },
        responseHeaders: {
          set: [{ name: 'strict-transport-security', value: 'max-age=600' }],
          remove: ['x-powered-by'],
        },
        rewrite: { hostname: 'internal.local', pathPrefix: '/v2' },
      },
    };
    expect(result.routes).toEqual([route({ l7 })]);
    // What the master sends is the gateway route with l7 spread in: the gateway's schema takes it as is.
    const sent = {
      id: 'r',
      hostname: 'app.example.com',
      backend: { url: 'http://web:8080' },
      ...result.routes[0]!.l7,
    };
    expect(gatewayRouteSchema.parse(sent)).toMatchObject(l7);
  });

  it('reads a redirect with its default status, and keeps l7 per route', () => {
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.filter.redirect.scheme': 'https',
      'tunnelfleet.old.hostname': 'old.example.com',
      'tunnelfleet.old.filter.redirect.hostname': 'new.example.com',
      'tunnelfleet.old.filter.redirect.path': '/welcome',
      'tunnelfleet.old.filter.redirect.port': '8443',
      'tunnelfleet.old.filter.redirect.status': '308',
      'tunnelfleet.plain.hostname': 'plain.example.com',
    });
    expect(result.problems).toEqual([]);
    const byKey = Object.fromEntries(result.routes.map((r) => [r.key, r.l7]));
    expect(byKey).toEqual({
      default: { filters: { redirect: { statusCode: 302, scheme: 'https' } } },
      old: {
        filters: { redirect: { statusCode: 308, hostname: 'new.example.com', path: '/welcome', port: 8443 } },
      },
      plain: undefined,
    });
  });

  it('lets two routes of one hostname and path differ by their match (not duplicates)', () => {
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.canary.hostname': 'app.example.com',
      'tunnelfleet.canary.match.header.x-env': 'canary',
      'tunnelfleet.again.hostname': 'app.example.com',
    });
    expect(result.routes.map((r) => r.key)).toEqual(['default', 'canary']);
    expect(result.invalidRoutes.map((r) => r.key)).toEqual(['again']);
    expect(result.invalidRoutes[0]!.problems.map((p) => p.message)).toEqual([
      'tunnelfleet.again.hostname: "app.example.com" is a duplicate: "app.example.com" is already routed by route "default" on this container',
    ]);
  });

  it('refuses bad values with the label and the reason, and the route is not published', () => {
    const cases: [Record<string, string>, string][] = [
      [
        { 'tunnelfleet.match.method': 'GET POST' },
        'error tunnelfleet.match.method: "GET POST" is not an HTTP method',
      ],
      [
        { 'tunnelfleet.match.header.X Env': 'a' },
        'error tunnelfleet.match.header.X Env: names the header "X Env", which is not an HTTP header name',
      ],
      [
        { 'tunnelfleet.match.header_regex.x-a': '^(a)\\1$' },
        'error tunnelfleet.match.header_regex.x-a: "^(a)\\\\1$" uses the backreference "\\1"',
      ],
      [{ 'tunnelfleet.match.query_regex.q': '(?i:x)' }, 'uses inline flags other than a leading (?i)'],
      [{ 'tunnelfleet.weight': '-1' }, 'error tunnelfleet.weight: "-1" is not a whole number (0 to 1000000)'],
      [
        { 'tunnelfleet.weight': '2000000' },
        'error tunnelfleet.weight: "2000000" is out of range (0 to 1000000)',
      ],
      [
        { 'tunnelfleet.filter.request_header.set.Host': 'evil.example.com' },
        'error tunnelfleet.filter.request_header.set.Host: names the header "Host", which is a header the gateway owns',
      ],
      [
        { 'tunnelfleet.filter.response_header.add.x-a': 'a\r\nset-cookie: s=1' },
        'must not hold line breaks or control characters',
      ],
      [
        { 'tunnelfleet.filter.request_header.remove': 'x-a, content-length' },
        'error tunnelfleet.filter.request_header.remove: "x-a, content-length" has "content-length", which is not a header a filter may remove',
      ],
      [{ 'tunnelfleet.filter.redirect.status': '200' }, 'is not a redirect status (301, 302, 303, 307, 308)'],
      [
        { 'tunnelfleet.filter.redirect.scheme': 'ftp' },
        'error tunnelfleet.filter.redirect.scheme: "ftp" is not http or https',
      ],
      [
        { 'tunnelfleet.filter.redirect.hostname': '*.example.com' },
        'error tunnelfleet.filter.redirect.hostname:',
      ],
      [{ 'tunnelfleet.filter.redirect.path': '//evil.example.com' }, 'a path ("/…", not "//host")'],
      [{ 'tunnelfleet.filter.redirect.port': '0' }, 'is out of range (1 to 65535)'],
      [
        { 'tunnelfleet.filter.rewrite.path_prefix': 'v2' },
        'error tunnelfleet.filter.rewrite.path_prefix: "v2"',
      ],
      [
        {
          'tunnelfleet.filter.redirect.scheme': 'https',
          'tunnelfleet.filter.rewrite.hostname': 'x.example.com',
        },
        'error tunnelfleet.filter.redirect.scheme: cannot be combined with filter.rewrite.* or mirror',
      ],
      [
        { 'tunnelfleet.mirror': 'http://shadow:8080/path' },
        'error tunnelfleet.mirror: "http://shadow:8080/path" a backend is an origin only',
      ],
      [{ 'tunnelfleet.mirror': 'tcp://shadow:22' }, 'a backend must be http:// or https://'],
      [
        { 'tunnelfleet.service': 'ssh://web:22', 'tunnelfleet.weight': '3' },
        'error tunnelfleet.weight: "3" needs an http:// or https:// service (the route\'s is "ssh://web:22")',
      ],
    ];
    for (const [labels, message] of cases) {
      const result = parseContainerLabels({ ...base, ...labels });
      expect(result.routes, JSON.stringify(labels)).toEqual([]);
      expect(result.problems.map((p) => `${p.severity} ${p.message}`).join('\n')).toContain(message);
    }
  });

  it('judges a mirror by the service policy, as a service (a label may not point the gateway anywhere)', () => {
    const metadata = parseContainerLabels(
      { ...base, 'tunnelfleet.mirror': 'http://169.254.169.254' },
      { servicePolicy: DEFAULT_SERVICE_POLICY },
    );
    expect(metadata.routes).toEqual([]);
    expect(metadata.problems.map((p) => p.message).join('\n')).toMatch(
      /^tunnelfleet\.mirror: "http:\/\/169\.254\.169\.254" .*link-local/m,
    );
    const own = { containerName: 'web', networks: { n: { aliases: ['web'], ipAddress: '172.20.0.5' } } };
    const narrowed = { servicePolicy: { allow: [], containerOnly: true }, ...own };
    const elsewhere = parseContainerLabels({ ...base, 'tunnelfleet.mirror': 'http://db:5432' }, narrowed);
    expect(elsewhere.routes).toEqual([]);
    expect(elsewhere.problems[0]?.label).toBe('tunnelfleet.mirror');
    const itself = parseContainerLabels({ ...base, 'tunnelfleet.mirror': 'http://web:9090' }, narrowed);
    expect(itself.routes[0]?.l7).toEqual({ filters: { mirror: { url: 'http://web:9090' } } });
  });

  it('warns about unknown keys with a hint, and limits the number of matches', () => {
    expect(messages({ 'tunnelfleet.filter.redirect.code': '301' })).toContain(
      'warning tunnelfleet.filter.redirect.code: is not a known key; ignored (did you mean "tunnelfleet.filter.redirect.port"?)',
    );
    expect(messages({ 'tunnelfleet.match.headers.x': '1' })[0]).toMatch(
      /^warning tunnelfleet\.match\.headers\.x: is not a known key/,
    );
    const many = Object.fromEntries(
      Array.from({ length: 17 }, (_, i) => [`tunnelfleet.match.header.x-${i}`, 'v']),
    );
    expect(messages(many).join('\n')).toContain(
      'is one too many: a route takes at most 16 labels of this kind',
    );
  });

  it('is known by the checker: tunnelfleet.<route>.match.* on a named route', () => {
    expect(
      messages({ 'tunnelfleet.api.hostname': 'api.example.com', 'tunnelfleet.api.match.method': 'GET' }),
    ).toEqual([]);
  });
});
