import { describe, expect, it } from 'vitest';
import { validateTunnelConfig } from './tunnel-config-validation.js';

const catchAll = { service: 'http_status:404' };
const withRules = (...rules: Record<string, unknown>[]) => ({ ingress: [...rules, catchAll] });

describe('validateTunnelConfig', () => {
  it('accepts every documented service form', () => {
    const services = [
      'http://web:80',
      'https://web',
      'tcp://db:5432',
      'ssh://host:22',
      'rdp://host:3389',
      'smb://files',
      'unix:/run/app.sock',
      'unix+tls:/run/app.sock',
      'http_status:418',
      'hello_world',
      'bastion',
    ];
    for (const service of services) {
      expect(validateTunnelConfig(withRules({ hostname: 'a.example.com', service })), service).toBeNull();
    }
  });

  it('requires a last catch-all rule', () => {
    expect(validateTunnelConfig({ ingress: [{ hostname: 'a.example.com', service: 'http://a' }] })).toBe(
      'The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)',
    );
    expect(validateTunnelConfig({ ingress: [{ path: '/x', service: 'http://a' }] })).toMatch(
      /last ingress rule/,
    );
    expect(validateTunnelConfig({ ingress: [{ hostname: '*', service: 'http://a' }] })).toBeNull();
  });

  it('refuses a catch-all before the end', () => {
    expect(validateTunnelConfig({ ingress: [{ service: 'http://a' }, catchAll] })).toMatch(
      /^Rule #1 is matching the hostname '', but this will match every hostname/,
    );
  });

  it('refuses bad services, wildcards, ports and regexes', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ hostname: 'a.example.com', service: 'ftp://x' }, /invalid address/],
      [{ hostname: 'a.example.com', service: 'web:80' }, /invalid address/],
      [{ hostname: 'a.example.com', service: 'http://web/sub' }, /different path/],
      [{ hostname: 'a.example.com', service: 'http_status:99' }, /invalid HTTP status code/],
      [{ hostname: 'a.example.com' }, /missing a service/],
      [{ hostname: 'a.*.example.com', service: 'http://a' }, /at most one wildcard/],
      [{ hostname: 'a.example.com:8080', service: 'http://a' }, /cannot contain a port/],
      [{ hostname: 'a.example.com', path: '([', service: 'http://a' }, /Rule #1 has an invalid regex/],
    ];
    for (const [rule, message] of bad)
      expect(validateTunnelConfig(withRules(rule)), JSON.stringify(rule)).toMatch(message);
  });

  it('accepts a leftmost wildcard and a config without ingress', () => {
    expect(validateTunnelConfig(withRules({ hostname: '*.example.com', service: 'http://a' }))).toBeNull();
    expect(validateTunnelConfig({ 'warp-routing': { enabled: true } })).toBeNull();
    expect(validateTunnelConfig({ ingress: [] })).toMatch(/doesn't contain any ingress rules/);
  });
});
