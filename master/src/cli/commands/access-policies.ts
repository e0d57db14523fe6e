import {
  type AccessRule,
  accessPolicyResponseSchema,
  dockflareDefaultPolicies,
  listAccessPoliciesResponseSchema,
} from '@tunnelfleet/common';
import { type CliCommand, output } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { requestCommand } from '../request-command.js';
import { formatTable, shortTime } from '../table.js';

export const accessPolicyCommands: CliCommand[] = [
  requestCommand({
    words: ['access-policies', 'list'],
    args: '',
    summary: 'named Access policies that labels refer to, and whether Cloudflare has them',
    arity: 0,
    method: 'GET',
    path: '/access-policies',
    response: listAccessPoliciesResponseSchema,
    text: (answer) =>
      formatTable(
        ['NAME', 'DECISION', 'INCLUDE', 'AT CLOUDFLARE', 'UPDATED'],
        answer.policies.map((policy) => [
          policy.name,
          policy.spec.decision,
          policy.spec.include.map((rule) => JSON.stringify(rule)).join(' '),
          policy.cfPolicyId ? 'yes' : 'not yet',
          shortTime(policy.updatedAt),
        ]),
        'No named Access policies.\n',
      ),
  }),
  {
    words: ['access-policies', 'create-dockflare-defaults'],
    args: '(--email ADDRESS | --email-domain DOMAIN)...',
    summary: "define DockFlare's groups authenticated-default (these people) and public-default-bypass",
    options: {
      email: { type: 'string', multiple: true },
      'email-domain': { type: 'string', multiple: true },
    },
    arity: 0,
    async run(context) {
      const people: AccessRule[] = [
        ...((context.options.email as string[] | undefined) ?? []).map((email) => ({ email: { email } })),
        ...((context.options['email-domain'] as string[] | undefined) ?? []).map((domain) => ({
          email_domain: { domain },
        })),
      ];
      // DockFlare's authenticated group admits the account's e-mail, which the CLI cannot know.
      if (people.length === 0)
        throw new UsageError(
          'give who authenticated-default lets in: --email ADDRESS or --email-domain DOMAIN',
        );
      const client = context.client();
      const { policies } = await client.request('GET', '/access-policies', listAccessPoliciesResponseSchema);
      const results: { name: string; created: boolean }[] = [];
      for (const policy of dockflareDefaultPolicies(people)) {
        // An operator's own definition of the name is kept: this command only fills the gaps.
        if (policies.some((existing) => existing.name === policy.name)) {
          results.push({ name: policy.name, created: false });
          continue;
        }
        await client.request('POST', '/access-policies', accessPolicyResponseSchema, policy);
        results.push({ name: policy.name, created: true });
      }
      output(context, { policies: results }, () =>
        results
          .map(({ name, created }) =>
            created
              ? `Created named Access policy ${name}.\n`
              : `Kept named Access policy ${name}: it is defined already.\n`,
          )
          .join(''),
      );
    },
  },
];
