import {
  createKeyResponseSchema,
  type KeyView,
  listKeysResponseSchema,
  revokeKeyResponseSchema,
} from '@tunnelfleet/common';
import { type CliCommand, output } from '../cli-context.js';
import { requestCommand } from '../request-command.js';
import { formatTable, shortTime } from '../table.js';

/** `default`, `+loopback,unix`, `own container +unix`: what the key's agent may publish beyond the default. */
function servicesColumn(policy: KeyView['servicePolicy']): string {
  const opened = policy.allow.length > 0 ? `+${policy.allow.join(',')}` : '';
  const scope = policy.containerOnly ? 'own container' : '';
  return [scope, opened].filter(Boolean).join(' ') || 'default';
}

/** Which hostnames the key's agent may claim, as the CLI shows it. */
function scopeText(key: KeyView): string {
  return key.allowAnyHostname ? 'any (no wildcards)' : key.hostnameAllowlist.join(',');
}

function keyRows(keys: KeyView[]): string {
  return formatTable(
    ['ID', 'NAME', 'STATUS', 'AGENT', 'APPROVAL', 'ALLOWLIST', 'SERVICES', 'CREATED', 'LAST USED'],
    keys.map((key) => [
      key.id,
      key.name,
      key.revokedAt ? 'revoked' : 'active',
      key.agentId ?? '-',
      key.autoApprove ? 'auto' : 'manual',
      scopeText(key),
      servicesColumn(key.servicePolicy),
      shortTime(key.createdAt),
      shortTime(key.lastUsedAt),
    ]),
    'No agent keys. Create one: tunnelfleet keys create <name> --allow PATTERN (or --allow-any)\n',
  );
}

export const keyCommands: CliCommand[] = [
  {
    words: ['keys', 'create'],
    args: '<name> (--allow PATTERN... | --allow-any) [--allow-service K]... [--container-only] [--manual-approval]',
    summary: 'create an agent API key (shown once) for the listed hostnames, or any but wildcards',
    options: {
      allow: { type: 'string', multiple: true },
      'allow-any': { type: 'boolean' },
      'manual-approval': { type: 'boolean' },
      'allow-service': { type: 'string', multiple: true },
      'container-only': { type: 'boolean' },
    },
    arity: 1,
    async run(context) {
      const body = {
        name: context.positionals[0],
        hostnameAllowlist: (context.options.allow as string[] | undefined) ?? [],
        allowAnyHostname: context.options['allow-any'] === true,
        autoApprove: context.options['manual-approval'] !== true,
        servicePolicy: {
          allow: (context.options['allow-service'] as string[] | undefined) ?? [],
          containerOnly: context.options['container-only'] === true,
        },
      };
      const created = await context.client().request('POST', '/keys', createKeyResponseSchema, body);
      output(
        context,
        created,
        () =>
          `Created key ${created.record.id} (${created.record.name}).\n` +
          (created.record.allowAnyHostname
            ? 'Its agent may claim any hostname of a managed zone, but no wildcard hostname.\n'
            : `Its agent may claim only: ${created.record.hostnameAllowlist.join(', ')}\n`) +
          'The key is shown only this once;\n' +
          `put this line in the agent's .env:\n\nTUNNELFLEET_API_KEY=${created.key}\n` +
          `\nServices: ${servicesColumn(created.record.servicePolicy)} (docs/enrollment.md, "Service policy")\n`,
      );
    },
  },
  requestCommand({
    words: ['keys', 'list'],
    args: '',
    summary: 'list agent keys (never the secrets)',
    arity: 0,
    method: 'GET',
    path: '/keys',
    response: listKeysResponseSchema,
    text: (answer) => keyRows(answer.keys),
  }),
  requestCommand({
    words: ['keys', 'revoke'],
    args: '<key id>',
    summary: 'revoke a key and cut its agent off',
    arity: 1,
    method: 'POST',
    path: (context) => `/keys/${encodeURIComponent(context.positionals[0]!)}/revoke`,
    response: revokeKeyResponseSchema,
    text: (answer) => `Revoked key ${answer.key.id} (${answer.key.name}).\n`,
  }),
];
