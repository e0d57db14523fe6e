import { describe, expect, it } from 'vitest';
import { envCloudflareTokens } from './cloudflare-tokens.js';
import { envDockerHost } from './docker-host.js';
import { envBool, envDurationSeconds, envEnum, envInt, envList, envString, envUrl } from './env-parsers.js';
import { envTrustProxy } from './trust-proxy.js';

function issues(
  schema: { safeParse(v: string): { success: boolean; error?: { issues: { message: string }[] } } },
  text: string,
) {
  const result = schema.safeParse(text);
  expect(result.success, `expected ${JSON.stringify(text)} to be rejected`).toBe(false);
  return result.error!.issues.map((issue) => issue.message).join('; ');
}

describe('env parsers', () => {
  it.each([
    ['true', true],
    ['1', true],
    ['YES', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['no', false],
    [' Off ', false],
  ])('bool %j → %s', (text, value) => {
    expect(envBool().parse(text)).toBe(value);
  });

  it('bool rejects anything else', () => {
    expect(issues(envBool(), 'maybe')).toContain('true/false/1/0/yes/no');
  });

  it('int parses within range and names the bound', () => {
    expect(envInt(1, 3600).parse(' 30 ')).toBe(30);
    expect(issues(envInt(1, 3600), '0')).toBe('must be at least 1');
    expect(issues(envInt(1, 3600), '3601')).toBe('must be at most 3600');
    expect(issues(envInt(1, 3600), '1.5')).toBe('must be a whole number');
    expect(issues(envInt(1, 3600), '30s')).toBe('must be a whole number');
  });

  it.each([
    ['600', 600],
    ['45s', 45],
    ['10m', 600],
    ['2h', 7200],
    ['1d', 86_400],
  ])('duration %j → %d seconds', (text, seconds) => {
    expect(envDurationSeconds(0, 86_400).parse(text)).toBe(seconds);
  });

  it('duration rejects bad units and out-of-range values', () => {
    expect(issues(envDurationSeconds(0, 3600), '10 minutes')).toContain('must be a duration');
    expect(issues(envDurationSeconds(0, 3600), '2h')).toBe('must be at most 3600 seconds');
  });

  it('url checks scheme', () => {
    expect(envUrl().parse('https://m.example.com/').host).toBe('m.example.com');
    expect(issues(envUrl(), 'm.example.com')).toBe('must be an absolute URL');
    expect(issues(envUrl(['redis']), 'http://x')).toBe('must start with redis://');
  });

  it('enum lists the choices', () => {
    expect(envEnum(['a', 'b']).parse('b')).toBe('b');
    expect(issues(envEnum(['a', 'b']), 'c')).toBe('must be one of a, b');
  });

  it('string bounds and pattern', () => {
    expect(issues(envString({ min: 32 }), 'short')).toBe('must be at least 32 characters');
    expect(issues(envString({ pattern: /^x+$/, patternText: 'only x' }), 'y')).toBe('only x');
  });

  it('list splits on commas and checks each item', () => {
    expect(envList(envInt(1, 10)).parse('1, 2,,3 ')).toEqual([1, 2, 3]);
    expect(issues(envList(envInt(1, 10)), '1,20')).toBe('must be at most 10');
    expect(issues(envList(envString(), { max: 2 }), 'a,b,c')).toBe('must list at most 2 items');
  });

  it.each([
    ['unix:///var/run/docker.sock', { kind: 'unix', socketPath: '/var/run/docker.sock' }],
    ['/run/docker.sock', { kind: 'unix', socketPath: '/run/docker.sock' }],
    ['tcp://socket-proxy:2375', { kind: 'tcp', host: 'socket-proxy', port: 2375, protocol: 'http' }],
    ['tcp://10.0.0.5', { kind: 'tcp', host: '10.0.0.5', port: 2375, protocol: 'http' }],
    ['http://[::1]:2380', { kind: 'tcp', host: '::1', port: 2380, protocol: 'http' }],
    ['https://docker.internal', { kind: 'tcp', host: 'docker.internal', port: 2376, protocol: 'https' }],
  ])('docker host %j', (text, endpoint) => {
    expect(envDockerHost().parse(text)).toEqual(endpoint);
  });

  it.each([
    ['unix://relative.sock', 'absolute path'],
    ['docker.sock', 'must be unix:///path/to/docker.sock or tcp://host:port'],
    ['ssh://user@host', 'scheme ssh: is not supported'],
    ['tcp://h:1/path', 'a path prefix is not supported'],
  ])('docker host rejects %j', (text, message) => {
    expect(issues(envDockerHost(), text)).toContain(message);
  });

  it('cloudflare tokens: token@zones;… with lower-cased zones', () => {
    expect(
      envCloudflareTokens().parse('tokA-123456@Example.com, example.org ; tokB_123456@example.net'),
    ).toEqual([
      { token: 'tokA-123456', zones: ['example.com', 'example.org'] },
      { token: 'tokB_123456', zones: ['example.net'] },
    ]);
  });

  it.each([
    ['no-at-sign', 'entry 1: expected token@zone1,zone2'],
    ['tok12345678@', 'entry 1: no zone after "@"'],
    ['tok12345678@not_a_zone', 'entry 1: "not_a_zone" is not a zone name'],
    ['tok12345678@a.com;tok87654321@a.com', 'entry 2: zone "a.com" listed twice'],
    ['bad token!@a.com', 'entry 1: the token has invalid characters or length'],
  ])('cloudflare tokens reject %j', (text, message) => {
    const text2 = issues(envCloudflareTokens(), text);
    expect(text2).toContain(message);
    expect(text2).not.toContain('bad token');
  });

  it.each([
    ['false', false],
    [' 1 ', 1],
    ['0', 0],
    ['loopback', ['loopback']],
    ['10.0.0.0/8, 192.168.1.7', ['10.0.0.0/8', '192.168.1.7/32']],
    ['LinkLocal,::1', ['linklocal', '::1/128']],
  ])('trust proxy %j → %j', (text, value) => {
    expect(envTrustProxy().parse(text)).toEqual(value);
  });

  it.each([
    ['true', "would believe any client's X-Forwarded-For"],
    ['101', 'must be at most 100 hops'],
    ['proxy.example.com', '"proxy.example.com" is not an IP address or CIDR range'],
    ['10.0.0.0/33', '"10.0.0.0/33" has the prefix length "/33", out of range 0-32'],
    ['loopback,', '"" is not an IP address'],
  ])('trust proxy rejects %j', (text, message) => {
    expect(issues(envTrustProxy(), text)).toContain(message);
  });
});
