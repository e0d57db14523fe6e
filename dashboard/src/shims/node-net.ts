/**
 * `isIP` of node:net for the browser build (the label parser checks IP ranges with it): 4, 6 or 0,
 * as Node answers. IPv6 is checked by the URL parser, which accepts exactly RFC 4291 addresses.
 */
export function isIP(input: string): 0 | 4 | 6 {
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(input)) return 4;
  if (!input.includes(':') || /[^0-9a-fA-F:.]/.test(input)) return 0;
  try {
    new URL(`http://[${input}]/`);
    return 6;
  } catch {
    return 0;
  }
}
