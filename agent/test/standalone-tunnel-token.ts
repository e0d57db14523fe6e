import { randomBytes, randomUUID } from 'node:crypto';

/** Test helper: a token the stand-in cloudflared accepts without an edge (ready at once). */
export function standaloneTunnelToken(): string {
  const claims = { a: 'account', t: randomUUID(), s: randomBytes(32).toString('base64') };
  return Buffer.from(JSON.stringify(claims)).toString('base64');
}
