import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHostname } from './hostname.js';
import { ORIGIN_KEY_NAMES } from './origin-request.js';
import { parseContainerLabels } from './parse-container-labels.js';
import { ROUTE_KEYS } from './tunnelfleet-reader.js';
import type { ParsedRoute } from './types.js';

const hostile = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\n',
    '__proto__',
    'constructor',
    'toString',
    '.',
    '..',
    '*',
    '-',
    '💥',
    '\u202e',
  ),
  fc.constantFrom('x'.repeat(100_000), `${'a.'.repeat(50_000)}com`, '('.repeat(5_000), `${'9'.repeat(400)}s`),
);
const plausibleValue = fc.constantFrom(
  'true',
  'false',
  'yes',
  '1',
  'app.example.com',
  '*.example.com',
  'http://web:80',
  'https://web',
  'tcp://db',
  'unix:/s',
  'http_status:404',
  'bastion',
  '^/api',
  '(?=x)',
  '30s',
  '1m30s',
  '-1s',
  '0',
  '65535',
  'socks',
  'a@example.com',
  '@corp.example',
  '10.0.0.0/8',
  'DE',
  'bypass',
  'allow',
  'deny',
  'service_auth',
  'default',
  '[{"prefix":"10.0.0.0/8","allow":true}]',
  '[]',
  '{}',
);
const value = fc.oneof({ weight: 3, arbitrary: plausibleValue }, { weight: 2, arbitrary: hostile });
const segment = fc.oneof(
  fc.constantFrom('api', 'a-b', 'default', 'API', '0', '1', '2', 'web', 'origin', 'access'),
  hostile,
);
const knownKey = fc.constantFrom(...ROUTE_KEYS, 'enable', ...ORIGIN_KEY_NAMES.map((k) => `origin.${k}`));
const peerKey = fc.constantFrom(
  'enable',
  'hostname',
  'service',
  'path',
  'zonename',
  'no_tls_verify',
  'originsrvname',
  'httpHostHeader',
  'http2_origin',
  'disable_chunked_encoding',
  'match_sni_to_host',
  'access.policy',
  'access.group',
  'access.groups',
  'access.name',
  'access.session_duration',
  'access.custom_rules',
  'access.email',
);
const key = fc.oneof(
  knownKey.map((k) => `tunnelfleet.${k}`),
  fc.tuple(segment, knownKey).map(([r, k]) => `tunnelfleet.${r}.${k}`),
  hostile.map((k) => `tunnelfleet.${k}`),
  fc
    .tuple(fc.constantFrom('dockflare.', 'cloudflare.tunnel.', 'dockflare.0.', 'dockflare.1.'), peerKey)
    .map(([p, k]) => p + k),
  fc
    .tuple(
      fc.constantFrom('tunnel', 'access', 'dns', 'x'),
      segment,
      fc.oneof(
        peerKey,
        knownKey,
        fc.constantFrom('access', 'policy.include.emails', 'policy.decision', 'origin.connect_timeout'),
      ),
    )
    .map(([t, s, p]) => `labelgate.${t}.${s}.${p}`),
  hostile,
);
const labelMap = fc
  .tuple(
    fc.dictionary(key, value, { maxKeys: 25 }),
    fc.constantFrom(undefined, 'true', 'false', 'junk'),
    fc.boolean(),
  )
  .map(([labels, enable, dockflare]) => ({
    ...labels,
    ...(enable === undefined ? {} : { 'tunnelfleet.enable': enable }),
    ...(dockflare ? { 'dockflare.enable': 'true' } : {}),
  }));
const context = fc.record(
  {
    containerName: fc.oneof(fc.constantFrom('/web', 'web', ''), hostile),
    exposedPorts: fc.array(fc.integer({ min: -5, max: 70_000 }), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

describe('parseContainerLabels on random label maps', () => {
  it('never throws and always answers with routes or problems', () => {
    fc.assert(
      fc.property(labelMap, context, (labels, ctx) => {
        const result = parseContainerLabels(labels, ctx);
        expect(typeof result.enabled).toBe('boolean');
        for (const problem of result.problems) {
          expect(problem.message).not.toContain('internal error');
          expect(problem.message.length).toBeLessThan(1_200);
          expect(problem.message.startsWith(problem.label)).toBe(true);
        }
        if (result.enabled) expect(result.routes.length + result.invalidRoutes.length).toBeGreaterThan(0);
        for (const invalid of result.invalidRoutes)
          expect(invalid.problems.some((p) => p.severity === 'error')).toBe(true);
        for (const route of result.routes) {
          expect(checkHostname(route.hostname, { wildcard: true })).toEqual({
            ok: true,
            value: route.hostname,
          });
          expect(result.problems.filter((p) => p.route === route.key && p.severity === 'error')).toEqual([]);
        }
      }),
      { numRuns: 10_000 },
    );
  });
});

const dnsLabel = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const hostname = fc
  .tuple(
    fc.boolean(),
    fc.array(dnsLabel, { minLength: 1, maxLength: 3 }),
    fc.constantFrom('example.com', 'example.org'),
  )
  .map(([wild, labels, zone]) => `${wild ? '*.' : ''}${labels.join('.')}.${zone}`)
  .filter((h) => !/^[\d.]+$/.test(h) && h.length <= 253);
const service = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('http', 'https', 'tcp', 'ssh', 'rdp'),
      dnsLabel,
      fc.integer({ min: 1, max: 65535 }),
    )
    .map(([s, h, p]) => `${s}://${h}:${p}`),
  fc.integer({ min: 100, max: 599 }).map((code) => `http_status:${code}`),
  fc.constantFrom('hello_world', 'bastion', 'unix:/run/app.sock'),
);
const originRequest = fc.record(
  {
    connectTimeout: fc.integer({ min: 1, max: 86_400 }),
    keepAliveConnections: fc.integer({ min: 1, max: 10_000 }),
    noTLSVerify: fc.boolean(),
    matchSNItoHost: fc.boolean(),
    proxyPort: fc.integer({ min: 0, max: 65535 }),
    proxyType: fc.constantFrom('' as const, 'socks' as const),
    httpHostHeader: dnsLabel,
  },
  { requiredKeys: [] },
);
const route = fc.record({
  hostname,
  service,
  path: fc.option(fc.constantFrom('^/api', '/static/.*\\.png$', '^/(v1|v2)/'), { nil: undefined }),
  tunnel: fc.option(fc.constantFrom('shared', 'eu-1'), { nil: undefined }),
  originRequest,
  dns: fc.boolean(),
  cleanup: fc.boolean(),
});

/** Writes a route back as tunnelfleet labels: what a user would put in a compose file. */
function toLabels(name: string, r: Omit<ParsedRoute, 'key' | 'source'>): Record<string, string> {
  const prefix = name === 'default' ? 'tunnelfleet.' : `tunnelfleet.${name}.`;
  const labels: Record<string, string> = {
    [`${prefix}hostname`]: r.hostname,
    [`${prefix}service`]: r.service,
    [`${prefix}dns`]: String(r.dns),
    [`${prefix}cleanup`]: String(r.cleanup),
  };
  if (r.path !== undefined) labels[`${prefix}path`] = r.path;
  if (r.tunnel !== undefined) labels[`${prefix}tunnel`] = r.tunnel;
  for (const [k, v] of Object.entries(r.originRequest)) labels[`${prefix}origin.${k}`] = String(v);
  return labels;
}

describe('valid routes round-trip', () => {
  it('labels written from valid routes parse back to the same routes', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(route, { minLength: 1, maxLength: 4, selector: (r) => r.hostname }),
        (routes) => {
          // Named routes inherit base keys, so the base route is used only alone.
          const named = routes.map((r, i) => ({ ...r, key: routes.length === 1 ? 'default' : `r${i}` }));
          const labels = Object.assign(
            { 'tunnelfleet.enable': 'true' },
            ...named.map((r) => toLabels(r.key, r)),
          );
          const result = parseContainerLabels(labels);
          expect(result.problems).toEqual([]);
          const expected = named.map((r) => {
            const parsed: ParsedRoute = { ...r, source: 'tunnelfleet' };
            if (r.path === undefined) delete parsed.path;
            if (r.tunnel === undefined) delete parsed.tunnel;
            return parsed;
          });
          expect(result.routes).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});
