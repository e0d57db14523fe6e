// `tunnelfleet-labels check [--json] [options] [FILE|-]` as a function: the bin and the master's
// `tunnelfleet labels` run it in their own process. With the bin, the only I/O of common.
import { readFile } from 'node:fs/promises';
import { checkLabelPrefixes, parseContainerLabels } from '../labels/index.js';
import { DEFAULT_SERVICE_POLICY, SERVICE_KINDS, type ServiceKind } from '../labels/service-policy.js';
import { type ContainerReport, formatReport, hasErrors } from './format-report.js';
import { readLabelInput } from './label-input.js';

/** Where the check reads standard input from and writes to (`process` fits). */
interface LabelsCheckIo {
  stdin: AsyncIterable<string | Uint8Array>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

const USAGE = `Usage: tunnelfleet-labels check [--json] [--allow-service KIND]... [--require-access]
         [--dockflare-prefix PREFIX] [--labelgate-prefix PREFIX] [FILE|-]

Reads container labels from docker inspect JSON (one container or an array) or key=value
lines, from FILE or standard input (-, the default), and prints the routes and problems.
Services are judged by a key's default service policy, as the master judges them.
  --json                 machine-readable output
  --allow-service KIND   judge as a key that allows KIND (${SERVICE_KINDS.join(', ')})
  --require-access       judge as a master with REQUIRE_ACCESS=true
  --dockflare-prefix P   read DockFlare labels under P too, as an agent with LABEL_PREFIX=P
  --labelgate-prefix P   read Labelgate labels under P, as an agent with LABELGATE_LABEL_PREFIX=P
Exit code: 0 no label errors, 1 label errors found, 2 usage or input error.
`;

const EXIT_OK = 0;
const EXIT_LABEL_ERRORS = 1;
const EXIT_USAGE = 2;

async function readSource(source: string, stdin: LabelsCheckIo['stdin']): Promise<string> {
  if (source !== '-') return readFile(source, 'utf8');
  const chunks: Uint8Array[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the label checker on `argv` (the arguments after `tunnelfleet-labels`); resolves to its exit code. */
export async function runLabelsCheck(argv: readonly string[], io: LabelsCheckIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  const json = rest.includes('--json');
  const requireAccess = rest.includes('--require-access');
  const allow: string[] = [];
  const files: string[] = [];
  const prefixes: { dockflare?: string; labelgate?: string } = {};
  for (let index = 0; index < rest.length; index++) {
    const arg = rest[index]!;
    if (arg === '--allow-service') allow.push(rest[++index] ?? '');
    else if (arg === '--dockflare-prefix') prefixes.dockflare = rest[++index] ?? '';
    else if (arg === '--labelgate-prefix') prefixes.labelgate = rest[++index] ?? '';
    else if (arg !== '--json' && arg !== '--require-access') files.push(arg);
  }
  // The agent's own check of LABEL_PREFIX and LABELGATE_LABEL_PREFIX, with the same message.
  const labelPrefixes = checkLabelPrefixes(prefixes);
  if (!labelPrefixes.ok) {
    io.stderr.write(`tunnelfleet-labels: ${labelPrefixes.reason}\n`);
    return EXIT_USAGE;
  }
  const unknown = files.find((arg) => arg.startsWith('-') && arg !== '-');
  const badKind = allow.find((kind) => !(SERVICE_KINDS as readonly string[]).includes(kind));
  if (command !== 'check' || files.length > 1 || unknown !== undefined || badKind !== undefined) {
    const why =
      command !== 'check'
        ? `unknown command "${command ?? ''}"`
        : unknown
          ? `unknown option "${unknown}"`
          : badKind !== undefined
            ? `--allow-service takes one of ${SERVICE_KINDS.join(', ')}, not "${badKind}"`
            : 'give at most one FILE';
    io.stderr.write(`tunnelfleet-labels: ${why}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const source = files[0] ?? '-';
  let text: string;
  try {
    text = await readSource(source, io.stdin);
  } catch (error) {
    io.stderr.write(
      `tunnelfleet-labels: cannot read ${source}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return EXIT_USAGE;
  }
  const input = readLabelInput(text, source === '-' ? '(stdin)' : source);
  if (!input.ok) {
    io.stderr.write(`tunnelfleet-labels: ${input.error}\n`);
    return EXIT_USAGE;
  }
  const reports: ContainerReport[] = input.containers.map((container) => ({
    container: container.name,
    result: parseContainerLabels(container.labels, {
      containerName: container.name,
      exposedPorts: container.exposedPorts,
      servicePolicy: { ...DEFAULT_SERVICE_POLICY, allow: allow as ServiceKind[] },
      requireAccess,
      labelPrefixes: labelPrefixes.value,
    }),
  }));
  io.stdout.write(
    json
      ? `${JSON.stringify(
          reports.map(({ container, result }) => ({ container, ...result })),
          null,
          2,
        )}\n`
      : formatReport(reports),
  );
  return hasErrors(reports) ? EXIT_LABEL_ERRORS : EXIT_OK;
}
