import { describe, expect, it } from 'vitest';
import { createSecretMasker, maskSecrets } from './mask-secrets.js';
import { isSecretFieldName, scrubSecretFields } from './scrub-secret-fields.js';

describe('maskSecrets', () => {
  it.each([
    [`tfk_0123456789abcdef_${'s'.repeat(43)}`, 'tfk_0123456789abcdef_[REDACTED]'],
    [`tfa_${'s'.repeat(43)}`, '[REDACTED]'],
    ['authorization: Bearer abc.def-ghi', 'authorization: Bearer [REDACTED]'],
    ['eyJhIjoiYWNjb3VudCIsInQiOiJ0dW5uZWwifQ==', '[REDACTED]'],
    ['eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl', '[REDACTED]'],
    ['CF_API_TOKEN=abc123 next', 'CF_API_TOKEN=[REDACTED] next'],
    ['rediss://user:pw-123@host:6380', 'rediss://user:[REDACTED]@host:6380'],
  ])('masks %j', (text, masked) => {
    expect(maskSecrets(text)).toBe(masked);
  });

  it.each([
    'container a1b2c3d4e5f6 started',
    'https://app.example.com/path?x=1',
    'eyJ short',
    'tunnelfleet.hostname=app.example.com',
    'TZ=UTC',
  ])('leaves %j alone', (text) => {
    expect(maskSecrets(text)).toBe(text);
  });

  it('masks literal secrets but ignores very short ones', () => {
    const mask = createSecretMasker(['cf-token-literal-1', 'abc']);
    expect(mask('using cf-token-literal-1 for abc')).toBe('using [REDACTED] for abc');
  });
});

describe('scrubSecretFields', () => {
  it.each([
    'token',
    'apiKey',
    'api_key',
    'TUNNEL_TOKEN',
    'cloudflareApiToken',
    'Authorization',
    'set-cookie',
    'clientSecret',
  ])('%s is a secret field', (name) => {
    expect(isSecretFieldName(name)).toBe(true);
  });

  it.each(['key', 'keyId', 'tunnelId', 'hostname', 'tokenCount'])('%s is not', (name) => {
    expect(isSecretFieldName(name)).toBe(false);
  });

  it('returns the same object when nothing is secret and survives cycles', () => {
    const value: Record<string, unknown> = { a: 1, b: { c: [1, 2] } };
    value.self = value;
    expect(scrubSecretFields(value)).toBe(value);
  });
});

describe('maskSecrets on JSON text', () => {
  it('keeps escaped JSON valid', () => {
    const line = JSON.stringify({
      msg: JSON.stringify({ env: ['TUNNEL_TOKEN=abcdef123'], url: 'redis://u:pw123456@h' }),
    });
    const masked = maskSecrets(line);
    expect(JSON.parse(JSON.parse(masked).msg)).toEqual({
      env: ['TUNNEL_TOKEN=[REDACTED]'],
      url: 'redis://u:[REDACTED]@h',
    });
  });
});
