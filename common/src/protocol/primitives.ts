import { z } from 'zod';
import { PROTOCOL_LIMITS } from './limits.js';

/** Keys that would reach `Object.prototype` if copied naively into a plain object. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * A record with at most `maxEntries` keys, none of which may be `__proto__`, `constructor` or
 * `prototype`. The guard runs before zod walks the entries, so a body with a million keys is refused
 * cheaply, and a prototype key is reported instead of silently dropped.
 */
export function boundedRecord<K extends z.core.$ZodRecordKey, V extends z.ZodType>(
  key: K,
  value: V,
  maxEntries: number,
) {
  const guard = z.unknown().superRefine((input, ctx) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return;
    const keys = Object.keys(input);
    if (keys.length > maxEntries) {
      ctx.addIssue({ code: 'custom', message: `at most ${maxEntries} entries, got ${keys.length}` });
      return;
    }
    for (const name of keys) {
      if (PROTOTYPE_KEYS.has(name))
        ctx.addIssue({ code: 'custom', message: 'reserved key name', path: [name] });
    }
  });
  return guard.pipe(z.record(key, value));
}

/** Master-issued identifiers: agent ids, command (job) ids. */
export const identifierSchema = z
  .string()
  .min(1)
  .max(PROTOCOL_LIMITS.idLength)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'letters, digits, "_", ".", ":" and "-" only');

/** Cloudflare tunnel id (a UUID). Case-insensitive because Cloudflare echoes what it stores. */
export const tunnelIdSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'a UUID');

/** Docker container id: 64 hex characters (a short 12+ prefix is accepted). */
export const containerIdSchema = z.string().regex(/^[0-9a-f]{12,64}$/, '12 to 64 lower-case hex characters');

/**
 * cloudflared tunnel token (base64 of a JSON object). The charset check keeps it safe to pass in an
 * environment variable and rules out whitespace/newline injection.
 */
export const tunnelTokenSchema = z
  .string()
  .min(16)
  .max(PROTOCOL_LIMITS.tunnelTokenLength)
  .regex(/^[A-Za-z0-9+/=_-]+$/, 'base64 characters only');

/** Docker image reference: `repo[:tag][@digest]`, with an optional registry host. */
export const imageRefSchema = z
  .string()
  .min(1)
  .max(PROTOCOL_LIMITS.imageRefLength)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$/,
    'a Docker image reference such as cloudflare/cloudflared:latest',
  );

/** Docker network name. */
export const networkNameSchema = z
  .string()
  .min(1)
  .max(PROTOCOL_LIMITS.nameLength)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a Docker network name');

/**
 * Human-readable name (agents, keys, hosts) as shown in the CLI, the API and logs. Control
 * characters (C0, DEL, C1: \p{Cc}), format characters (bidi overrides and isolates such as U+202E,
 * zero-width characters, the BOM: \p{Cf}) and line or paragraph separators are refused: they let
 * `prod-db\u202e…` display as another name, or forge extra lines in a table or a log.
 */
export const nameSchema = z
  .string()
  .min(1)
  .max(PROTOCOL_LIMITS.nameLength)
  .regex(
    /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u,
    'no control, format (bidi, zero-width) or line-separator characters',
  );

/** Free text (reasons, error messages). */
export const messageSchema = z.string().max(PROTOCOL_LIMITS.messageLength);

/** ISO-8601 timestamp with offset, e.g. `2025-01-01T00:00:00.000Z`. */
export const timestampSchema = z.iso.datetime({ offset: true });

/** Monotonic counters (command versions, report sequences): non-negative safe integers. */
export const counterSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Error carried in a protocol message (same shape as the HTTP error body's `error`). */
export const protocolErrorSchema = z.strictObject({
  code: z.string().min(1).max(64),
  message: messageSchema,
});

/** cloudflared log levels the supervisor may pass with `--loglevel`. */
export const cloudflaredLogLevelSchema = z.enum(['debug', 'info', 'warn', 'error', 'fatal']);
