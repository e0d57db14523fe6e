import type { GatewayPathMatch } from './routing-table.js';

/** Characters a literal path is made of in a regex, `\.` standing for a dot. */
const LITERAL = String.raw`((?:[A-Za-z0-9_~/-]|\\\.)*)`;
const EXACT = new RegExp(`^\\^${LITERAL}\\$$`);
const SEGMENT_PREFIX = new RegExp(String.raw`^\^${LITERAL}\((?:\?:)?/\|\$\)$`);

const unescapeDots = (literal: string) => literal.replace(/\\\./g, '.');

/**
 * The gateway's path match for a route's path label (a cloudflared regex, unanchored): no path is
 * the prefix `/`; `^/literal$` an exact path; `^/literal(/|$)` a segment prefix; anything else a
 * regex with the same meaning. cloudflared sends the gateway only what the regex matches, and the
 * gateway must then choose the route by the same path: only conversions that keep the meaning
 * exactly are made, so that Gateway API precedence (exact, longest prefix) applies where it can.
 */
export function gatewayPathMatch(path: string | undefined): GatewayPathMatch {
  if (path === undefined || path === '' || path === '^/') return { type: 'prefix', value: '/' };
  const exact = EXACT.exec(path);
  if (exact?.[1]?.startsWith('/')) return { type: 'exact', value: unescapeDots(exact[1]) };
  const prefix = SEGMENT_PREFIX.exec(path);
  if (prefix?.[1]?.startsWith('/') && !prefix[1].endsWith('/'))
    return { type: 'prefix', value: unescapeDots(prefix[1]) };
  return { type: 'regex', value: path };
}
