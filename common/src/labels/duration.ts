import { type Check, ok, refuse } from './problems.js';

const NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n,
  μs: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const PART = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
const NANOS_PER_SECOND = 1_000_000_000n;
const LONGEST = 64;

/** Go `time.ParseDuration` syntax (`30s`, `1m30s`, `1.5h`) or bare integer seconds, in nanoseconds. */
export function parseDuration(raw: string): Check<bigint> {
  const text = raw.trim();
  if (text.length === 0) return refuse('is empty (expected a duration such as "30s" or "1m30s")');
  if (text.length > LONGEST) return refuse(`is too long for a duration (${text.length} characters)`);
  if (/^\d+$/.test(text)) return ok(BigInt(text) * NANOS_PER_SECOND);
  if (text.startsWith('-')) return refuse('is negative');
  let rest = text.startsWith('+') ? text.slice(1) : text;
  let total = 0n;
  while (rest.length > 0) {
    const match = PART.exec(rest);
    const whole = match?.[1] ?? '';
    const fraction = match?.[2] ?? '';
    if (!match || (whole === '' && fraction === '')) {
      return refuse('is not a duration (use e.g. "30s", "1m30s", "2h" or a number of seconds)');
    }
    const unit = NANOS[match[3] ?? ''] ?? 1n;
    total += BigInt(whole || '0') * unit;
    if (fraction) total += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    rest = rest.slice(match[0].length);
  }
  return ok(total);
}

interface SecondsRange {
  min: number;
  max: number;
}

/** A duration as whole seconds within a range, as the Cloudflare API takes it. */
export function parseDurationSeconds(raw: string, range: SecondsRange): Check<number> {
  const parsed = parseDuration(raw);
  if (!parsed.ok) return parsed;
  if (parsed.value % NANOS_PER_SECOND !== 0n) {
    return refuse('is not a whole number of seconds (the Cloudflare API takes integer seconds)');
  }
  const seconds = parsed.value / NANOS_PER_SECOND;
  if (seconds < BigInt(range.min) || seconds > BigInt(range.max)) {
    return refuse(`is out of range (${range.min}s to ${range.max}s)`);
  }
  return ok(Number(seconds));
}
