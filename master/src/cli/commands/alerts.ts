import {
  type AlertDeliveryView,
  type AlertReceiverView,
  alertReceiverResponseSchema,
  createAlertReceiverResponseSchema,
  listAlertDeliveriesResponseSchema,
  listAlertReceiversResponseSchema,
  testAlertResponseSchema,
  type UpdateAlertReceiverRequest,
} from '@tunnelfleet/common';
import { z } from 'zod';
import { type CliCommand, type CliContext, output } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { requestCommand } from '../request-command.js';
import { formatTable, shortTime } from '../table.js';

function receiverRows(receivers: AlertReceiverView[]): string {
  return formatTable(
    ['ID', 'NAME', 'FORMAT', 'URL', 'EVENTS', 'ENABLED', 'CREATED'],
    receivers.map((receiver) => [
      receiver.id,
      receiver.name,
      receiver.format,
      `${receiver.urlOrigin}/…`,
      receiver.events.length > 0 ? receiver.events.join(',') : 'all',
      receiver.enabled ? 'yes' : 'no',
      shortTime(receiver.createdAt),
    ]),
    'No alert receivers. Add one: tunnelfleet alerts add <name> <url>\n',
  );
}

function deliveryRows(deliveries: AlertDeliveryView[]): string {
  return formatTable(
    ['ID', 'RECEIVER', 'EVENT', 'STATUS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR', 'CREATED'],
    deliveries.map((delivery) => [
      String(delivery.id),
      delivery.receiverId,
      delivery.eventType,
      delivery.status,
      String(delivery.attempts),
      shortTime(delivery.nextAttemptAt),
      delivery.lastError ?? '-',
      shortTime(delivery.createdAt),
    ]),
    'No alert deliveries.\n',
  );
}

const events = (context: CliContext) => (context.options.event as string[] | undefined) ?? [];

export const alertCommands: CliCommand[] = [
  {
    words: ['alerts', 'add'],
    args: '<name> <url> [--format F] [--event T]...',
    summary: 'add a webhook receiver, F: generic|slack|discord|ntfy (secret shown once)',
    options: { format: { type: 'string' }, event: { type: 'string', multiple: true } },
    arity: 2,
    async run(context) {
      const body = {
        name: context.positionals[0],
        url: context.positionals[1],
        format: (context.options.format as string | undefined) ?? 'generic',
        events: events(context),
      };
      const created = await context
        .client()
        .request('POST', '/alerts/receivers', createAlertReceiverResponseSchema, body);
      output(
        context,
        created,
        () =>
          `Added receiver ${created.receiver.id} (${created.receiver.name}). Its signing secret is shown only\n` +
          `this once; the receiver checks X-Tunnelfleet-Signature with it (docs/operations.md):\n\n${created.secret}\n`,
      );
    },
  },
  requestCommand({
    words: ['alerts', 'list'],
    args: '',
    summary: 'list webhook receivers (never their secrets)',
    arity: 0,
    method: 'GET',
    path: '/alerts/receivers',
    response: listAlertReceiversResponseSchema,
    text: (answer) => receiverRows(answer.receivers),
  }),
  requestCommand({
    words: ['alerts', 'update'],
    args: '<id> [--format F] [--event T]... [--all-events] [--enable|--disable]',
    summary: 'change a receiver: format, events (T), on or off',
    options: {
      format: { type: 'string' },
      event: { type: 'string', multiple: true },
      'all-events': { type: 'boolean' },
      enable: { type: 'boolean' },
      disable: { type: 'boolean' },
    },
    arity: 1,
    method: 'PATCH',
    path: (context) => `/alerts/receivers/${encodeURIComponent(context.positionals[0]!)}`,
    response: alertReceiverResponseSchema,
    body: (context) => {
      const { options } = context;
      if (options.enable && options.disable)
        throw new UsageError('--enable and --disable exclude each other');
      const changes: UpdateAlertReceiverRequest = {};
      if (options.format !== undefined)
        changes.format = options.format as UpdateAlertReceiverRequest['format'];
      if (options['all-events']) changes.events = [];
      else if (events(context).length > 0)
        changes.events = events(context) as UpdateAlertReceiverRequest['events'];
      if (options.enable) changes.enabled = true;
      if (options.disable) changes.enabled = false;
      if (Object.keys(changes).length === 0)
        throw new UsageError('nothing to change: give at least one option');
      return changes;
    },
    text: (answer) => receiverRows([answer.receiver]),
  }),
  requestCommand({
    words: ['alerts', 'remove'],
    args: '<id>',
    summary: 'remove a receiver and drop its pending deliveries',
    arity: 1,
    method: 'DELETE',
    path: (context) => `/alerts/receivers/${encodeURIComponent(context.positionals[0]!)}`,
    // 204: no body, which the client reads as null.
    response: z.null(),
    json: (_, context) => ({ removed: context.positionals[0] }),
    text: (_, context) => `Removed receiver ${context.positionals[0]}.\n`,
  }),
  requestCommand({
    words: ['alerts', 'test'],
    args: '<id>',
    summary: 'send a test event to one receiver',
    arity: 1,
    method: 'POST',
    path: (context) => `/alerts/receivers/${encodeURIComponent(context.positionals[0]!)}/test`,
    response: testAlertResponseSchema,
    text: (answer, context) =>
      `Queued test delivery ${answer.delivery.id}; see it with: tunnelfleet alerts deliveries --receiver ${context.positionals[0]}\n`,
  }),
  requestCommand({
    words: ['alerts', 'deliveries'],
    args: '[--receiver ID] [--status pending|delivered|failed]',
    summary: 'recent alert deliveries, newest first',
    options: { receiver: { type: 'string' }, status: { type: 'string' } },
    arity: 0,
    method: 'GET',
    path: (context) => {
      const query = new URLSearchParams();
      if (context.options.receiver) query.set('receiverId', context.options.receiver as string);
      if (context.options.status) query.set('status', context.options.status as string);
      return `/alerts/deliveries${query.size > 0 ? `?${query}` : ''}`;
    },
    response: listAlertDeliveriesResponseSchema,
    text: (answer) => deliveryRows(answer.deliveries),
  }),
];
