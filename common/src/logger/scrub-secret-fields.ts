import { stdSerializers } from 'pino';
import { REDACTED } from './redact-paths.js';

/** Field names (lower-case, without `_`/`-`) whose value is a secret wherever they appear. */
const SECRET_NAMES = new Set(['authorization', 'cookie', 'setcookie', 'credentials', 'passwd']);
const SECRET_SUFFIXES = [
  'token',
  'tokens',
  'secret',
  'password',
  'apikey',
  'privatekey',
  'accesskey',
  'secretkey',
];

/** Deep enough for our messages; deeper values are still masked by shape in `maskSecrets`. */
const MAX_DEPTH = 10;

export function isSecretFieldName(name: string): boolean {
  const normalized = name.toLowerCase().replace(/[-_]/g, '');
  return SECRET_NAMES.has(normalized) || SECRET_SUFFIXES.some((suffix) => normalized.endsWith(suffix));
}

/**
 * Copy of `value` with every secret-named field censored at any depth, and errors turned into
 * plain objects (pino would otherwise print errors that are not under `err` as `{}`). Returns the
 * input itself when nothing needed changing, so ordinary log calls do not allocate.
 */
export function scrubSecretFields(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH || seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Error) return scrubSecretFields(stdSerializers.err(value), depth, seen);
  if (Array.isArray(value)) {
    let changed = false;
    const items = value.map((item) => {
      const scrubbed = scrubSecretFields(item, depth + 1, seen);
      changed ||= scrubbed !== item;
      return scrubbed;
    });
    return changed ? items : value;
  }
  // Leave class instances (Buffer, Date, URL, Map…) to their own JSON form.
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const scrubbed =
      isSecretFieldName(key) && field !== undefined && field !== null
        ? REDACTED
        : scrubSecretFields(field, depth + 1, seen);
    if (scrubbed !== field) {
      copy ??= { ...value };
      copy[key] = scrubbed;
    }
  }
  return copy ?? value;
}
