import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Schemas that turn one environment variable's text into a typed value. Each error message reads
 * after the variable name: `REPORT_INTERVAL_SECONDS: must be at most 3600`.
 */

export function envString(
  options: { min?: number; max?: number; pattern?: RegExp; patternText?: string } = {},
) {
  let schema = z
    .string()
    .min(options.min ?? 1, `must be at least ${options.min ?? 1} characters`)
    .max(options.max ?? 4096, `must be at most ${options.max ?? 4096} characters`);
  if (options.pattern)
    schema = schema.regex(options.pattern, options.patternText ?? `must match ${options.pattern}`);
  return schema;
}

/** An absolute URL whose scheme is one of `protocols` (without the colon). */
export function envUrl(protocols: readonly string[] = ['http', 'https']) {
  return z.string().transform((text, ctx) => {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute URL' });
      return z.NEVER;
    }
    if (!protocols.includes(url.protocol.slice(0, -1))) {
      ctx.addIssue({
        code: 'custom',
        message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
      });
      return z.NEVER;
    }
    return url;
  });
}

export function envInt(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function envBool() {
  return z.string().transform((text, ctx) => {
    const value = text.trim().toLowerCase();
    if (TRUE.has(value)) return true;
    if (FALSE.has(value)) return false;
    ctx.addIssue({ code: 'custom', message: 'must be one of true/false/1/0/yes/no/on/off' });
    return z.NEVER;
  });
}

export function envEnum<const T extends readonly [string, ...string[]]>(values: T) {
  return z
    .string()
    .trim()
    .pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` }));
}

const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds, written `600`, `600s`, `10m`, `1h` or `1d`. */
export function envDurationSeconds(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^\d+(s|m|h|d)?$/, 'must be a duration such as 30, 30s, 10m, 1h or 1d')
    .transform((text) => {
      const [, amount, unit] = /^(\d+)([smhd]?)$/.exec(text)!;
      return Number(amount) * DURATION_UNITS[unit!]!;
    })
    .pipe(z.number().min(min, `must be at least ${min} seconds`).max(max, `must be at most ${max} seconds`));
}

/** Comma-separated items, blanks ignored, each checked by `item`. */
export function envList<T>(item: z.ZodType<T, string>, options: { max?: number } = {}) {
  const max = options.max ?? 1000;
  return z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(item).max(max, `must list at most ${max} items`));
}

/**
 * A secret kept in a file (a Docker secret under `/run/secrets`), so that it appears neither in the
 * environment nor on a command line: the variable names the file, the value is its content, read
 * once when the configuration is loaded. One trailing newline is dropped (`echo pw > file`).
 */
export function envSecretFile() {
  return z.string().transform((path, ctx) => {
    let content: string;
    try {
      content = readFileSync(path, 'utf8');
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      });
      return z.NEVER;
    }
    const secret = content.replace(/\r?\n$/, '');
    if (secret === '' || /[\r\n]/.test(secret)) {
      ctx.addIssue({ code: 'custom', message: `${path} must hold one line, the secret` });
      return z.NEVER;
    }
    return secret;
  });
}
