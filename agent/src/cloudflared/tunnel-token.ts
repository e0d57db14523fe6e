import { CloudflaredTokenMalformedError } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Refuses a token cloudflared would refuse, saying why, before any container starts. cloudflared
 * reads it as base64 of `{"a": account tag, "t": tunnel id, "s": base64 secret}`: anything else
 * makes it exit 255 ("Provided Tunnel token is not valid"), and a JSON lacking a field passes
 * locally only to be refused by the edge. Never puts the token itself in the message.
 */
export function checkTunnelTokenShape(token: string): void {
  if (!BASE64.test(token)) refuse('it is not base64');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    refuse('it is base64 but not of JSON');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    refuse('its JSON is not an object');
  const { a, t, s } = claims as Record<string, unknown>;
  if (typeof a !== 'string' || a === '') refuse('it has no account tag ("a")');
  if (typeof t !== 'string' || !UUID.test(t)) refuse('it has no tunnel id ("t", a UUID)');
  if (typeof s !== 'string' || !BASE64.test(s)) refuse('it has no tunnel secret ("s", base64)');
}

function refuse(what: string): never {
  throw new CloudflaredTokenMalformedError(what);
}
