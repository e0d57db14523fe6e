import { reconcileResponseSchema } from '@tunnelfleet/common';
import { type CliCommand, output } from '../cli-context.js';

export const reconcileCommands: CliCommand[] = [
  {
    words: ['reconcile'],
    args: '',
    summary: 'queue a full reconcile now (repairs drift)',
    arity: 0,
    async run(context) {
      const answer = await context.client().request('POST', '/reconcile', reconcileResponseSchema);
      output(
        context,
        answer,
        () => `Full reconcile queued${answer.jobId ? ` (job ${answer.jobId})` : ''}.\n`,
      );
    },
  },
];
