import { TunnelfleetError } from './tunnelfleet-error.js';

export interface ConfigProblem {
  /** Environment variable name. */
  variable: string;
  reason: string;
  /** A valid value to show the operator. */
  example?: string;
}

/** The environment is missing or has bad variables; lists every one of them at once. */
export class ConfigError extends TunnelfleetError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map(
      (p) =>
        `  ${p.variable}: ${p.reason}${p.example === undefined ? '' : ` (example: ${p.variable}=${p.example})`}`,
    );
    super('config_invalid', `invalid configuration:\n${lines.join('\n')}`, {
      details: { variables: problems.map((p) => p.variable) },
    });
    this.problems = problems;
  }

  /** Names of the offending variables. */
  get variables(): string[] {
    return this.problems.map((p) => p.variable);
  }
}
