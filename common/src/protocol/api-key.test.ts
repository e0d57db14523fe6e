import { describe, expect, it } from 'vitest';
import { generateAdminToken, generateApiKey, parseApiKey, SECRET_TOKEN_PATTERN } from './api-key.js';

describe('API keys', () => {
  it('generates keys that parse back to their parts', () => {
    const { key, keyId, secret } = generateApiKey();
    expect(key).toMatch(/^tfk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(parseApiKey(key)).toEqual({ keyId, secret });
  });

  it('generates distinct keys', () => {
    expect(generateApiKey().key).not.toBe(generateApiKey().key);
  });

  // Built, not written out, so secret scanners do not mistake the fixtures for real keys.
  const secretShaped = 'x'.repeat(43);
  it.each([
    '',
    `Bearer tfk_0123456789abcdef_${secretShaped}`,
    `tfk_0123456789ABCDEF_${secretShaped}`,
    'tfk_0123456789abcdef_short',
    `tfa_${secretShaped}`,
  ])('rejects %j', (text) => {
    expect(parseApiKey(text)).toBeNull();
  });

  it('generates admin tokens with their prefix and 32 random bytes', () => {
    expect(generateAdminToken()).toMatch(/^tfa_[A-Za-z0-9_-]{43}$/);
  });

  it('SECRET_TOKEN_PATTERN finds keys and admin tokens inside text', () => {
    const text = `key=${generateApiKey().key} admin ${generateAdminToken()} id tfk_short`;
    expect(text.match(SECRET_TOKEN_PATTERN)).toHaveLength(2);
  });
});
