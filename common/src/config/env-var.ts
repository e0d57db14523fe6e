import type { z } from 'zod';

/** One environment variable: how to parse it and how to explain it to an operator. */
export interface EnvVar<T> {
  name: string;
  schema: z.ZodType<unknown, string>;
  /** One or two sentences for `.env.example` and error messages. */
  doc: string;
  /** A valid value, shown when the variable is missing or bad. */
  example: string;
  /** Raw text used when the variable is unset or empty. */
  defaultValue?: string;
  /** Text shown instead of `defaultValue` when the default is computed by the caller. */
  defaultDoc?: string;
  optional: boolean;
  /** Never echo the value back (errors, rendered examples). */
  secret: boolean;
  /** Phantom: the parsed type. */
  readonly __type?: T;
}

interface EnvVarOptions {
  doc: string;
  example: string;
  secret?: boolean;
}

/** Required unless a default is given. */
export function envVar<S extends z.ZodType<unknown, string>>(
  name: string,
  schema: S,
  options: EnvVarOptions & { defaultValue?: string },
): EnvVar<z.output<S>> {
  return { name, schema, optional: false, secret: options.secret ?? false, ...options };
}

/** May be unset: the value is then `undefined` (`defaultDoc` explains what the caller does instead). */
export function optionalEnvVar<S extends z.ZodType<unknown, string>>(
  name: string,
  schema: S,
  options: EnvVarOptions & { defaultDoc?: string },
): EnvVar<z.output<S> | undefined> {
  return { name, schema, optional: true, secret: options.secret ?? false, ...options };
}

/** Config key → variable. */
export type ConfigSpec = Record<string, EnvVar<unknown>>;

export type ConfigOf<S extends ConfigSpec> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };
