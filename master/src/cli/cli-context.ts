import type { AdminClient } from './admin-client.js';

/** What a command gets: its arguments, the admin API, and where to write. */
export interface CliContext {
  positionals: string[];
  options: Record<string, string | boolean | (string | boolean)[] | undefined>;
  json: boolean;
  client(): AdminClient;
  out(text: string): void;
}

export interface CliCommand {
  /** Words after `tunnelfleet`, e.g. `['keys', 'create']`. */
  words: string[];
  /** Shown in the usage text, after the words. */
  args: string;
  summary: string;
  /** Command-specific options (the global ones are always allowed). */
  options?: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  /** Positional arguments: exactly this many, or from `[min, max]` (an id or an option instead). */
  arity: number | readonly [min: number, max: number];
  run(context: CliContext): Promise<void>;
}

/** Prints the API answer as JSON for scripts, or the readable form. */
export function output(context: CliContext, body: unknown, readable: () => string): void {
  context.out(context.json ? `${JSON.stringify(body, null, 2)}\n` : readable());
}
