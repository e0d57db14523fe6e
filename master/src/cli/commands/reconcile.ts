import { reconcileResponseSchema } from '@tunnelfleet/common';
import type { CliCommand } from '../cli-context.js';
import { requestCommand } from '../request-command.js';

export const reconcileCommands: CliCommand[] = [
  requestCommand({
    words: ['reconcile'],
    args: '',
    summary: 'queue a full reconcile now (repairs drift)',
    arity: 0,
    method: 'POST',
    path: '/reconcile',
    response: reconcileResponseSchema,
    text: (answer) => `Full reconcile queued${answer.jobId ? ` (job ${answer.jobId})` : ''}.\n`,
  }),
];
