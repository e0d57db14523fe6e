import { ConfigError, type ConfigProblem } from '../errors/config-error.js';
import type { ConfigOf, ConfigSpec } from './env-var.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads every variable of `spec` from `env`. An empty value counts as unset (compose files often
 * have `NAME=`). Throws one `ConfigError` listing every missing or bad variable, never the first only.
 */
export function loadConfig<S extends ConfigSpec>(spec: S, env: Env = process.env): ConfigOf<S> {
  const config: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const [key, variable] of Object.entries(spec)) {
    const raw = env[variable.name];
    const text = raw === undefined || raw.trim() === '' ? variable.defaultValue : raw;
    if (text === undefined) {
      if (variable.optional) config[key] = undefined;
      else
        problems.push({
          variable: variable.name,
          reason: `required: ${variable.doc}`,
          example: variable.example,
        });
      continue;
    }
    const result = variable.schema.safeParse(text);
    if (result.success) {
      config[key] = result.data;
      continue;
    }
    const reason = result.error.issues.map((issue) => issue.message).join('; ');
    const shown = variable.secret
      ? ''
      : ` (got ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)})`;
    problems.push({ variable: variable.name, reason: `${reason}${shown}`, example: variable.example });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as ConfigOf<S>;
}
