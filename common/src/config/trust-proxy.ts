import { z } from 'zod';
import { checkIpRange } from '../labels/ip-range.js';

/**
 * Express `trust proxy`: `false` (no proxy: the client address is the socket's), a hop count
 * (trust that many proxies in front), or the proxies' addresses and ranges.
 */
export type TrustProxy = false | number | string[];

/** proxy-addr's names for ranges, accepted beside addresses. */
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];
const MAX_HOPS = 100;
const EXPECTED = 'expected false, a hop count (1 = one proxy) or proxy addresses (loopback, 10.0.0.0/8, …)';

/**
 * `TRUST_PROXY`. `true` is refused: trusting every `X-Forwarded-For` would let any client pick
 * the address the failed-authentication limit counts.
 */
export function envTrustProxy() {
  return z.string().transform((text, ctx): TrustProxy => {
    const value = text.trim();
    if (value.toLowerCase() === 'false') return false;
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= MAX_HOPS) return hops;
      ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_HOPS} hops` });
      return z.NEVER;
    }
    if (value.toLowerCase() === 'true') {
      ctx.addIssue({
        code: 'custom',
        message: `"true" would believe any client's X-Forwarded-For; ${EXPECTED}`,
      });
      return z.NEVER;
    }
    const proxies: string[] = [];
    for (const item of value.split(',').map((part) => part.trim())) {
      if (NAMED_RANGES.includes(item.toLowerCase())) {
        proxies.push(item.toLowerCase());
        continue;
      }
      const range = checkIpRange(item);
      if (!range.ok) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(item)} ${range.reason}; ${EXPECTED}` });
        return z.NEVER;
      }
      proxies.push(range.value);
    }
    return proxies;
  });
}
