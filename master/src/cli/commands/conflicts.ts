import {
  type AdoptionPreview,
  adoptionPreviewResponseSchema,
  adoptResponseSchema,
  listConflictsResponseSchema,
} from '@tunnelfleet/common';
import { type CliCommand, output } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { requestCommand } from '../request-command.js';
import { formatTable, shortTime } from '../table.js';

type Shown = string | number | boolean | null;
const shown = (value: Shown) => (value === null ? '-' : String(value));

/** The foreign object now beside what adopting it writes, one field a line. */
function diff(preview: AdoptionPreview): string {
  const rows: [string, Shown, Shown][] =
    preview.object === 'dns_record'
      ? (['type', 'name', 'content', 'proxied', 'ttl', 'comment'] as const).map((f) => [
          f,
          preview.current[f],
          preview.desired[f],
        ])
      : (['hostname', 'path', 'service', 'originRequest', 'other'] as const).map((f) => [
          f,
          preview.current[f],
          preview.desired[f],
        ]);
  const what =
    preview.object === 'dns_record'
      ? `DNS record ${preview.recordId}`
      : `ingress rule on tunnel ${preview.tunnelId}`;
  return (
    `${what} for ${preview.hostname}${preview.path}, in the way of route ${preview.routeId} (agent ${preview.agentId}):\n\n` +
    formatTable(
      ['FIELD', 'AT CLOUDFLARE NOW', 'AFTER ADOPTION'],
      rows.map(([field, now, after]) => [field, shown(now), shown(after)]),
    ) +
    `\nTo adopt it as it is now: tunnelfleet conflicts adopt ${preview.conflictId} --fingerprint ${preview.fingerprint}\n`
  );
}

export const conflictCommands: CliCommand[] = [
  {
    words: ['conflicts', 'adopt'],
    args: '<conflict id> [--fingerprint FP]',
    summary:
      "show the foreign DNS record or ingress rule in a route's way beside what Tunnelfleet would write; with the fingerprint shown, adopt it (refused if it changed since)",
    options: { fingerprint: { type: 'string' } },
    arity: 1,
    async run(context) {
      const id = Number(context.positionals[0]);
      if (!Number.isSafeInteger(id) || id < 1) throw new UsageError('a conflict id is a positive number');
      const fingerprint = context.options.fingerprint as string | undefined;
      if (fingerprint === undefined) {
        const answer = await context
          .client()
          .request('GET', `/conflicts/${id}/adoption`, adoptionPreviewResponseSchema);
        output(context, answer, () => diff(answer.adoption));
        return;
      }
      const answer = await context
        .client()
        .request('POST', `/conflicts/${id}/adopt`, adoptResponseSchema, { fingerprint });
      const { adopted } = answer;
      output(context, answer, () =>
        adopted.state === 'done'
          ? `Adopted the ${adopted.object === 'dns_record' ? 'DNS record' : 'ingress rule'} of ${adopted.hostname} for route ${adopted.routeId}.\n`
          : `Adopted the ingress rule of ${adopted.hostname} for route ${adopted.routeId}: its tunnel takes it over with its next sync.\n`,
      );
    },
  },
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
