import type { z } from 'zod';
import type { AdminClient } from './admin-client.js';
import { type CliCommand, type CliContext, output } from './cli-context.js';

/** What makes a command that is one admin API request with its answer shown. */
export interface RequestCommandSpec<S extends z.ZodType> extends Omit<CliCommand, 'run'> {
  method: Parameters<AdminClient['request']>[0];
  /** Under the admin API prefix; from the command's arguments when it names something. */
  path: string | ((context: CliContext) => string);
  /** The admin API's response schema for it (`@tunnelfleet/common`). */
  response: S;
  /** The JSON body, from the arguments and options; may throw a `UsageError`. */
  body?: (context: CliContext) => unknown;
  /** The answer for a person. */
  text: (answer: z.output<S>, context: CliContext) => string;
  /** What `--json` prints: the answer as it came unless set (a 204 has none to print). */
  json?: (answer: z.output<S>, context: CliContext) => unknown;
}

/** Most commands are one request and its answer: this is that shape, written once. */
export function requestCommand<S extends z.ZodType>(spec: RequestCommandSpec<S>): CliCommand {
  const { method, path, response, body, text, json, ...command } = spec;
  return {
    ...command,
    async run(context) {
      const answer = await context
        .client()
        .request(method, typeof path === 'string' ? path : path(context), response, body?.(context));
      output(context, json ? json(answer, context) : answer, () => text(answer, context));
    },
  };
}
