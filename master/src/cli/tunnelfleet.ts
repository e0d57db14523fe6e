#!/usr/bin/env node
// tunnelfleet: the operator's CLI over the master's admin API.
import { parseArgs } from 'node:util';
import { runLabelsCheck } from '@tunnelfleet/common/labels-check';
import { createAdminClient } from './admin-client.js';
import type { CliCommand, CliContext } from './cli-context.js';
import { CliError, EXIT, type ExitCode, UsageError } from './cli-errors.js';
import { accessPolicyCommands } from './commands/access-policies.js';
import { agentCommands } from './commands/agents.js';
import { alertCommands } from './commands/alerts.js';
import { cloudflaredCommands } from './commands/cloudflared.js';
import { conflictCommands } from './commands/conflicts.js';
import { keyCommands } from './commands/keys.js';
import { reconcileCommands } from './commands/reconcile.js';
import { routeCommands } from './commands/routes.js';
import { sharedTunnelCommands } from './commands/shared-tunnels.js';

const COMMANDS: CliCommand[] = [
  ...keyCommands,
  ...agentCommands,
  ...cloudflaredCommands,
  ...sharedTunnelCommands,
  ...routeCommands,
  ...conflictCommands,
  ...accessPolicyCommands,
  ...reconcileCommands,
  ...alertCommands,
];

const DEFAULT_URL = 'http://127.0.0.1:8080';

const GLOBAL_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.words.join(' ').length + 1 + c.args.length));
  const lines = COMMANDS.map(
    (c) => `  ${`${c.words.join(' ')} ${c.args}`.trimEnd().padEnd(width)}  ${c.summary}`,
  );
  lines.push(
    `  ${'labels check [--json] [--allow-service K]... [--require-access] [--dockflare-prefix P] [--labelgate-prefix P] [FILE|-]'.padEnd(width)}  check container labels offline`,
  );
  return `Usage: tunnelfleet <command> [--json] [--url URL] [--token TOKEN]

Commands:
${lines.join('\n')}

Options:
  --url URL      master base URL (env TUNNELFLEET_URL, default ${DEFAULT_URL})
  --token TOKEN  admin token (env TUNNELFLEET_ADMIN_TOKEN; prefer the env: flags show in ps)
  --json         print the API's JSON answer, for scripts
  -h, --help     this text

Exit codes: 0 ok, 1 the master reported a failure, 2 usage error, 3 master unreachable or
admin token refused.
`;
}

function findCommand(positionals: string[]): CliCommand | undefined {
  return COMMANDS.find((command) => command.words.every((word, index) => positionals[index] === word));
}

function masterUrl(raw: string): URL {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  throw new UsageError(`--url / TUNNELFLEET_URL must be an http(s) URL, got "${raw}"`);
}

async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<ExitCode | number> {
  // The label checker has its own arguments (FILE, -): hand them over untouched.
  const first = argv.find((arg) => !arg.startsWith('-'));
  if (first === 'labels') return runLabelsCheck(argv.slice(argv.indexOf('labels') + 1), process);

  const allOptions = Object.assign({}, GLOBAL_OPTIONS, ...COMMANDS.map((c) => c.options ?? {}));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: allOptions, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { positionals, values } = parsed;
  if (values.help || positionals.length === 0 || positionals[0] === 'help') {
    process.stdout.write(usage());
    return values.help || positionals[0] === 'help' ? EXIT.ok : EXIT.usage;
  }
  const command = findCommand(positionals);
  if (!command) throw new UsageError(`unknown command "${positionals.join(' ')}"`);
  const args = positionals.slice(command.words.length);
  const name = command.words.join(' ');
  const [min, max] = typeof command.arity === 'number' ? [command.arity, command.arity] : command.arity;
  if (args.length < min || args.length > max)
    throw new UsageError(
      `${name} takes ${max === min ? min || 'no' : `${min} to ${max}`} argument(s): tunnelfleet ${name} ${command.args}`,
    );
  const foreign = Object.keys(values).find(
    (key) => !(key in GLOBAL_OPTIONS) && !(key in (command.options ?? {})),
  );
  if (foreign) throw new UsageError(`${name} has no option --${foreign}`);

  const url = masterUrl((values.url as string | undefined) ?? env.TUNNELFLEET_URL ?? DEFAULT_URL);
  const token = (values.token as string | undefined) ?? env.TUNNELFLEET_ADMIN_TOKEN ?? '';
  const context: CliContext = {
    positionals: args,
    options: values,
    json: values.json === true,
    client() {
      if (token === '') throw new UsageError('no admin token: set TUNNELFLEET_ADMIN_TOKEN or pass --token');
      return createAdminClient({ url, token });
    },
    out: (text) => process.stdout.write(text),
  };
  await command.run(context);
  return EXIT.ok;
}

try {
  process.exitCode = await run(process.argv.slice(2), process.env);
} catch (error) {
  if (!(error instanceof CliError)) throw error;
  process.stderr.write(
    `tunnelfleet: ${error.message}${error.exitCode === EXIT.usage && error.code === 'usage' ? '\nRun tunnelfleet --help for the commands.' : ''}\n`,
  );
  process.exitCode = error.exitCode;
}
