import { isIP } from 'node:net';
import { type Check, ok, refuse } from './problems.js';

/** An IP address or CIDR range, as a CIDR (a bare address becomes /32 or /128). */
export function checkIpRange(raw: string): Check<string> {
  const text = raw.trim();
  const [address = '', bits, extra] = text.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined)
    return refuse('is not an IP address or CIDR range (e.g. "10.0.0.0/8")');
  const max = family === 4 ? 32 : 128;
  if (bits === undefined) return ok(`${address.toLowerCase()}/${max}`);
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max)
    return refuse(`has the prefix length "/${bits}", out of range 0-${max}`);
  return ok(`${address.toLowerCase()}/${Number(bits)}`);
}

export function checkIpAddress(raw: string): Check<string> {
  const text = raw.trim();
  return isIP(text) === 0 ? refuse('is not an IP address') : ok(text.toLowerCase());
}
