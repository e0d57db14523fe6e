import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CloudflaredTokenMalformedError } from './errors.js';
import { checkTunnelTokenShape } from './tunnel-token.js';

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
const claims = {
  a: 'c0ffee00c0ffee00c0ffee00c0ffee00',
  t: randomUUID(),
  s: randomBytes(32).toString('base64'),
};

describe('checkTunnelTokenShape', () => {
  it('accepts base64 JSON with an account tag, a tunnel id and a secret, as Cloudflare issues them', () => {
    expect(() => checkTunnelTokenShape(encode(claims))).not.toThrow();
    // The emulator's tokens carry an edge URL too: extra fields are cloudflared's business.
    expect(() => checkTunnelTokenShape(encode({ ...claims, e: 'http://127.0.0.1:1' }))).not.toThrow();
  });

  it.each([
    ['not a token!', 'not base64'],
    [Buffer.from('not json at all').toString('base64'), 'not of JSON'],
    [encode(['a', 't', 's']), 'not an object'],
    [encode({ t: claims.t, s: claims.s }), 'account tag ("a")'],
    [encode({ a: claims.a, s: claims.s }), 'tunnel id ("t", a UUID)'],
    [encode({ ...claims, t: 'my-tunnel' }), 'tunnel id ("t", a UUID)'],
    [encode({ a: claims.a, t: claims.t }), 'tunnel secret ("s", base64)'],
    [encode({ ...claims, s: '%%%' }), 'tunnel secret ("s", base64)'],
  ])('refuses %s, saying %s, without repeating the token', (token, what) => {
    let refusal: unknown;
    try {
      checkTunnelTokenShape(token);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(CloudflaredTokenMalformedError);
    expect((refusal as Error).message).toContain(what);
    expect((refusal as Error).message).not.toContain(token);
    expect(refusal).toMatchObject({ code: 'tunnel_token_malformed' });
  });
});
