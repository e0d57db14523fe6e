import { listConflictsResponseSchema } from '@tunnelfleet/common';
import type { CliCommand } from '../cli-context.js';
import { requestCommand } from '../request-command.js';
import { formatTable, shortTime } from '../table.js';

export const conflictCommands: CliCommand[] = [
  requestCommand({
    words: ['conflicts'],
    args: '[--all]',
    summary: 'hostname conflicts (--all: resolved ones too)',
    options: { all: { type: 'boolean' } },
    arity: 0,
    method: 'GET',
    path: (context) => `/conflicts?includeResolved=${context.options.all === true}`,
    response: listConflictsResponseSchema,
    text: (answer, context) =>
      formatTable(
        ['ID', 'KIND', 'HOSTNAME', 'DETECTED', 'RESOLVED', 'MESSAGE'],
        answer.conflicts.map((c) => [
          String(c.id),
          c.kind,
          `${c.hostname}${c.path && c.path !== '/' ? c.path : ''}`,
          shortTime(c.detectedAt),
          shortTime(c.resolvedAt),
          c.message,
        ]),
        `No ${context.options.all === true ? '' : 'open '}conflicts.\n`,
      ),
  }),
];
