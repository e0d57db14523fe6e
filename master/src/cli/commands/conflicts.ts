import { listConflictsResponseSchema } from '@tunnelfleet/common';
import { type CliCommand, output } from '../cli-context.js';
import { formatTable, shortTime } from '../table.js';

export const conflictCommands: CliCommand[] = [
  {
    words: ['conflicts'],
    args: '[--all]',
    summary: 'hostname conflicts (--all: resolved ones too)',
    options: { all: { type: 'boolean' } },
    arity: 0,
    async run(context) {
      const all = context.options.all === true;
      const answer = await context
        .client()
        .request('GET', `/conflicts?includeResolved=${all}`, listConflictsResponseSchema);
      output(context, answer, () =>
        answer.conflicts.length === 0
          ? `No ${all ? '' : 'open '}conflicts.\n`
          : formatTable(
              ['ID', 'KIND', 'HOSTNAME', 'DETECTED', 'RESOLVED', 'MESSAGE'],
              answer.conflicts.map((c) => [
                String(c.id),
                c.kind,
                `${c.hostname}${c.path && c.path !== '/' ? c.path : ''}`,
                shortTime(c.detectedAt),
                shortTime(c.resolvedAt),
                c.message,
              ]),
            ),
      );
    },
  },
];
