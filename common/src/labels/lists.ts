/** Comma-separated list: items trimmed, empty items dropped. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** Letters and digits with `_`/`-`, compared without case: `connect_timeout` matches `connectTimeout`. */
export function foldKey(key: string): string {
  return key.toLowerCase().replace(/[_-]/g, '');
}
