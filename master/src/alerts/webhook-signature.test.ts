import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from './webhook-signature.js';

describe('webhook signatures', () => {
  const secret = 'tfw_test-secret';
  const body = '{"type":"alert.test"}';
  const signature = signWebhook(secret, 1_700_000_000, body);

  it('verifies the body and timestamp it was made for', () => {
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    const input = { secret, body, signature, timestamp: '1700000000', nowSeconds: 1_700_000_010 };
    expect(verifyWebhookSignature(input)).toBe(true);
    expect(verifyWebhookSignature({ ...input, body: `${body} ` })).toBe(false);
    expect(verifyWebhookSignature({ ...input, secret: 'tfw_other' })).toBe(false);
  });

  it('refuses a replay: an old timestamp, or a fresh one the signature was not made with', () => {
    const input = { secret, body, signature, timestamp: '1700000000', nowSeconds: 1_700_000_000 + 301 };
    expect(verifyWebhookSignature(input)).toBe(false);
    expect(verifyWebhookSignature({ ...input, timestamp: String(input.nowSeconds) })).toBe(false);
  });
});
