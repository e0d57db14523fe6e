import {
  type CloudflaredConfigView,
  type CloudflaredTunnelOptions,
  fleetCloudflaredResponseSchema,
  type PutCloudflaredRequest,
  putCloudflaredResponseSchema,
} from '@tunnelfleet/common';
import { type CliCommand, type CliContext, output } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';

/** `--retries 3`: a whole number, or a usage error naming the flag (the API checks the range). */
function wholeNumber(context: CliContext, flag: string): number | undefined {
  const raw = context.options[flag] as string | undefined;
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw new UsageError(`--${flag} takes a whole number, got "${raw}"`);
  return Number(raw);
}

function requestFrom(context: CliContext): PutCloudflaredRequest {
  const text = (flag: string) => context.options[flag] as string | undefined;
  const retries = wholeNumber(context, 'retries');
  const gracePeriodSeconds = wholeNumber(context, 'grace-period');
  // Unchecked enums on purpose: the API's answer names the values it allows.
  const settings = Object.fromEntries(
    Object.entries({
      protocol: text('protocol'),
      logLevel: text('loglevel'),
      edgeIpVersion: text('edge-ip-version'),
      region: text('region'),
      retries,
      gracePeriodSeconds,
      postQuantum: context.options['post-quantum'] === true ? true : undefined,
    }).filter(([, value]) => value !== undefined),
  ) as PutCloudflaredRequest['settings'];
  const image = text('image');
  return { ...(image ? { image } : {}), settings };
}

/** `protocol=quic retries=3`, or that cloudflared's defaults apply. */
export function settingsText(settings: CloudflaredTunnelOptions): string {
  const entries = Object.entries(settings);
  return entries.length > 0
    ? entries.map(([name, value]) => `${name}=${value}`).join(' ')
    : "cloudflared's defaults";
}

function configText(config: CloudflaredConfigView, fallbackImage: string): string {
  return `Image     ${config.image ?? fallbackImage}\nSettings  ${settingsText(config.settings)}\n`;
}

export const cloudflaredCommands: CliCommand[] = [
  {
    words: ['cloudflared', 'set'],
    args: '[--agent ID] [--image REF] [SETTING...]',
    summary:
      "replace the fleet's (--agent: one host's) cloudflared image and settings, and send them; SETTING: --protocol auto|quic|http2, --loglevel L, --edge-ip-version auto|4|6, --region us, --retries N, --grace-period SECONDS, --post-quantum",
    options: {
      image: { type: 'string' },
      protocol: { type: 'string' },
      loglevel: { type: 'string' },
      'edge-ip-version': { type: 'string' },
      region: { type: 'string' },
      retries: { type: 'string' },
      'grace-period': { type: 'string' },
      'post-quantum': { type: 'boolean' },
      agent: { type: 'string' },
    },
    arity: 0,
    async run(context) {
      const agent = context.options.agent as string | undefined;
      const path = agent ? `/agents/${encodeURIComponent(agent)}/cloudflared` : '/cloudflared';
      const answer = await context
        .client()
        .request('PUT', path, putCloudflaredResponseSchema, requestFrom(context));
      output(context, answer, () => {
        const scope = agent ? `agent ${agent}` : 'the fleet';
        const sent =
          answer.updatedAgents.length > 0
            ? `Sent to ${answer.updatedAgents.length} running agent(s): ${answer.updatedAgents.join(', ')}\n`
            : 'No running agent to send it to now; each gets it when it starts.\n';
        const failed = answer.failedAgents
          .map(({ agentId, error }) => `Could not send it to ${agentId}: ${error} (run the same set again)\n`)
          .join('');
        return `Saved for ${scope}:\n${configText(answer.config, agent ? "the fleet's" : "the master's CLOUDFLARED_IMAGE")}${sent}${failed}`;
      });
    },
  },
  {
    words: ['cloudflared', 'show'],
    args: '',
    summary: "the fleet's cloudflared image and settings (a host's: agents show)",
    arity: 0,
    async run(context) {
      const answer = await context.client().request('GET', '/cloudflared', fleetCloudflaredResponseSchema);
      output(context, answer, () =>
        configText(answer.config, `${answer.defaultImage} (the master's CLOUDFLARED_IMAGE)`),
      );
    },
  },
];
