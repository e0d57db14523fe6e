import { type DestinationStream, type Logger, pino, stdSerializers } from 'pino';
import type { LogLevel } from './log-level.js';
import { createSecretMasker } from './mask-secrets.js';
import { REDACT_PATHS, REDACTED } from './redact-paths.js';
import { scrubSecretFields } from './scrub-secret-fields.js';

interface LoggerOptions {
  /** Component name, e.g. `agent` or `master`; appears as `name` on every line. */
  name: string;
  level?: LogLevel;
  /** Where JSON lines go; stdout by default. */
  destination?: DestinationStream;
  /** Secret values without a recognisable shape (Cloudflare API tokens, admin token) to mask anywhere. */
  secrets?: readonly string[];
}

/**
 * pino logger that keeps secrets out of the output in three layers:
 * 1. `redact` paths for the fields whose place we know;
 * 2. any field named like a secret (`*token`, `*secret`, `*password`, `authorization`…) at any depth;
 * 3. the final JSON line masked for secret shapes (`tfk_` keys, `Bearer …`, `eyJ…` tunnel tokens,
 *    `*_TOKEN=…`, URL passwords) and the literal `secrets` given, which covers messages, interpolated
 *    arguments, error messages and stacks.
 */
export function createLogger(options: LoggerOptions): Logger {
  const mask = createSecretMasker(options.secrets);
  return pino(
    {
      name: options.name,
      level: options.level ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      // Errors are already plain objects after scrubbing; serialize only those that are not.
      serializers: { err: (value: unknown) => (value instanceof Error ? stdSerializers.err(value) : value) },
      formatters: {
        bindings: (bindings) => scrubSecretFields(bindings) as Record<string, unknown>,
        log: (object) => scrubSecretFields(object) as Record<string, unknown>,
      },
      hooks: { streamWrite: mask },
    },
    options.destination ?? pino.destination(1),
  );
}

export type { Logger } from 'pino';
