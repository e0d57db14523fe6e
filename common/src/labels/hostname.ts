import { type Check, ok, refuse, showValue } from './problems.js';

const MAX_HOSTNAME = 253;
const MAX_LABEL = 63;
const LABEL_CHARS = /^[a-z0-9-]+$/;

function describeLabelChars(label: string): string | undefined {
  if (LABEL_CHARS.test(label)) return undefined;
  const bad = [...label].find((c) => !/[a-z0-9-]/.test(c)) ?? '';
  if (/\s/.test(bad)) return `label ${showValue(label)} has a space`;
  if (bad.charCodeAt(0) > 127)
    return `label ${showValue(label)} has the non-ASCII character "${bad}" (write the xn-- punycode form)`;
  return `label ${showValue(label)} has the character ${JSON.stringify(bad)} (only letters, digits and "-")`;
}

function checkLabel(label: string): string | undefined {
  if (label.length === 0) return 'empty label: two dots in a row, or a leading dot';
  if (label.length > MAX_LABEL)
    return `label ${showValue(label)} is ${label.length} characters long (at most ${MAX_LABEL})`;
  const chars = describeLabelChars(label);
  if (chars) return chars;
  if (label.startsWith('-')) return `label ${showValue(label)} starts with "-"`;
  if (label.endsWith('-')) return `label ${showValue(label)} ends with "-"`;
  return undefined;
}

interface HostnameOptions {
  /** Allow a leftmost `*.` label. */
  wildcard: boolean;
  /** Allow a name of one label (zones and origin names may be; public hostnames may not). */
  singleLabel?: boolean;
}

const invalid = (detail: string): Check<string> => refuse(`is not a valid hostname (${detail})`);

/**
 * RFC 1123 host name check, lower-cased. The reason completes `<label>: "<value>" <reason>`.
 */
export function checkHostname(raw: string, options: HostnameOptions): Check<string> {
  const name = raw.trim().toLowerCase();
  if (name.length === 0) return refuse('is empty (expected a hostname such as "app.example.com")');
  if (name.length > MAX_HOSTNAME) return invalid(`${name.length} characters long, at most ${MAX_HOSTNAME}`);
  if (name.endsWith('.')) return invalid('it ends with a dot; write it without the trailing dot');
  const labels = name.split('.');
  const rest = labels[0] === '*' ? labels.slice(1) : labels;
  if (labels[0] === '*') {
    if (!options.wildcard) return invalid('a wildcard is not allowed here');
    if (rest.length < 2) return invalid('a wildcard needs a domain under it, e.g. "*.example.com"');
  }
  for (const label of rest) {
    if (label.includes('*'))
      return invalid('"*" is only allowed as the whole leftmost label, e.g. "*.example.com"');
    const reason = checkLabel(label);
    if (reason) return invalid(reason);
  }
  if (!options.singleLabel && labels.length < 2) {
    return invalid('a single label; a public hostname needs a domain, e.g. "app.example.com"');
  }
  if (labels.every((label) => /^\d+$/.test(label))) return invalid('it is an IP address');
  return ok(name);
}
