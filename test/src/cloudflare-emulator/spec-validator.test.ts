import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpecValidator, type SpecValidator } from './spec-validator.js';

const zonePath = `/zones/${'a'.repeat(32)}`;
const tunnelPath = `/accounts/${'b'.repeat(32)}/cfd_tunnel/5f0b8c2e-8a5b-4d7e-9f6a-1b2c3d4e5f60`;
const none = new URLSearchParams();

describe('spec validator', () => {
  let validator: SpecValidator;
  beforeAll(async () => {
    validator = await loadSpecValidator();
  });

  it('flags request bodies and query parameters off the spec', () => {
    const bad = validator.validateRequest('POST', `${zonePath}/dns_records`, none, {
      type: 'CNAME',
      name: 'a.example.com',
      content: 'x.example.net',
      ttl: 1,
      proxied: 'yes',
    });
    expect(bad.map((v) => v.message)).toEqual([expect.stringMatching(/^\/proxied must be boolean/)]);
    const query = validator.validateRequest(
      'GET',
      `${zonePath}/dns_records`,
      new URLSearchParams('bogus=1'),
      undefined,
    );
    expect(query[0]?.message).toMatch(/query parameter bogus is not documented/);
    const page = validator.validateRequest('GET', '/zones', new URLSearchParams('page=two'), undefined);
    expect(page[0]?.message).toMatch(/page=two must be a number/);
    expect(validator.validateRequest('GET', '/nowhere', none, undefined)[0]?.message).toMatch(/no operation/);
  });

  it('accepts the catch-all last ingress rule but not a hostname-less rule elsewhere', () => {
    const catchAll = { service: 'http_status:404' };
    const rule = { hostname: 'a.example.com', service: 'http://a' };
    const put = (ingress: unknown[]) =>
      validator.validateRequest('PUT', `${tunnelPath}/configurations`, none, { config: { ingress } });
    expect(put([rule, catchAll])).toEqual([]);
    expect(put([catchAll, rule, catchAll]).map((v) => v.message)).toEqual([
      expect.stringMatching(/^\/config\/ingress\/0 must have required property 'hostname'/),
    ]);
  });

  it('flags replies missing required fields, and 429 without Retry-After', () => {
    const reply = { success: true, errors: [], messages: [], result: { name: 'Acme', type: 'standard' } };
    const missing = validator.validateResponse('GET', `/accounts/${'b'.repeat(32)}`, 200, reply, {});
    expect(missing.map((v) => v.message)).toEqual([
      expect.stringMatching(/must have required property 'id'/),
    ]);
    const limited = {
      success: false,
      errors: [{ code: 971, message: 'Please wait' }],
      messages: [],
      result: null,
    };
    expect(validator.validateResponse('GET', '/zones', 429, limited, { 'retry-after': '300' })).toEqual([]);
    expect(validator.validateResponse('GET', '/zones', 429, limited, {})[0]?.message).toMatch(/Retry-After/);
  });

  it('accepts result: null in error replies and flags undocumented success statuses', () => {
    const failure = {
      success: false,
      errors: [{ code: 81044, message: 'Record does not exist.' }],
      messages: [],
      result: null,
    };
    expect(
      validator.validateResponse('GET', `${zonePath}/dns_records/${'c'.repeat(32)}`, 404, failure, {}),
    ).toEqual([]);
    const created = { success: true, errors: [], messages: [], result: { id: 'x' } };
    expect(validator.validateResponse('GET', '/zones', 201, created, {})[0]?.message).toMatch(
      /status 201 is not documented/,
    );
  });
});
