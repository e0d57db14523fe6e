import {
  type CloudflaredConfigView,
  type CloudflaredTunnelOptions,
  fleetCloudflaredResponseSchema,
  listRolloutsResponseSchema,
  type PutCloudflaredRequest,
  putCloudflaredResponseSchema,
  type RolloutView,
  rolloutResponseSchema,
  type StartRolloutRequest,
} from '@tunnelfleet/common';
import { type CliCommand, type CliContext, output } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { requestCommand } from '../request-command.js';
import { formatTable, shortTime } from '../table.js';

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
  return {
    ...(image ? { image } : {}),
    settings,
    ...(context.options['at-once'] === true ? { rollout: false as const } : {}),
  };
}

/** `--canary ag_1,ag_2 --canary-size 1 --wave-size 2 --wave-timeout 300`, as the API takes them. */
function rolloutOptionsFrom(context: CliContext): Omit<StartRolloutRequest, 'image'> {
  const canary = context.options.canary as string | undefined;
  const canarySize = wholeNumber(context, 'canary-size');
  const waveSize = wholeNumber(context, 'wave-size');
  const waveTimeoutSeconds = wholeNumber(context, 'wave-timeout');
  return {
    ...(canary
      ? {
          canary: canary
            .split(',')
            .map((id) => id.trim())
            .filter(Boolean),
        }
      : {}),
    ...(canarySize !== undefined ? { canarySize } : {}),
    ...(waveSize !== undefined ? { waveSize } : {}),
    ...(waveTimeoutSeconds !== undefined ? { waveTimeoutSeconds } : {}),
  };
}

/** A rollout: its outcome, then one line per host with its wave and why it is where it is. */
function rolloutText(rollout: RolloutView): string {
  const wave = rollout.currentWave === null ? '' : `, wave ${rollout.currentWave} of ${rollout.waves - 1}`;
  const lines = [
    `Rollout   ${rollout.id}`,
    `Image     ${rollout.image} (previous: ${rollout.previousImage})`,
    `Status    ${rollout.status}${wave}`,
    `Waves     canary ${rollout.canarySize}, then ${rollout.waveSize} at a time, ${rollout.waveTimeoutSeconds}s each`,
    `Started   ${shortTime(rollout.startedAt)}  Finished ${shortTime(rollout.finishedAt)}`,
    ...(rollout.haltReason ? [`Halted    ${rollout.haltReason}`] : []),
  ];
  const hosts = formatTable(
    ['AGENT', 'WAVE', 'STATE', 'DETAIL'],
    rollout.hosts.map((host) => [
      host.agentId,
      host.wave === null ? '-' : host.wave === 0 ? 'canary' : String(host.wave),
      host.state,
      host.detail ?? '',
    ]),
  );
  return `${lines.join('\n')}\n\n${hosts}`;
}

const ROLLOUT_OPTIONS = {
  canary: { type: 'string' },
  'canary-size': { type: 'string' },
  'wave-size': { type: 'string' },
  'wave-timeout': { type: 'string' },
} as const;

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
    args: '[--agent ID] [--image REF] [--at-once] [SETTING...]',
    summary:
      "replace the fleet's (--agent: one host's) cloudflared image and settings, and send them; a new fleet image rolls out in waves (--at-once: to every host now, unchecked); SETTING: --protocol auto|quic|http2, --loglevel L, --edge-ip-version auto|4|6, --region us, --retries N, --grace-period SECONDS, --post-quantum",
    options: {
      'at-once': { type: 'boolean' },
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
        const rollout = answer.rollout
          ? `The new image rolls out in waves: tunnelfleet cloudflared rollout show ${answer.rollout.id}\n`
          : '';
        return `Saved for ${scope}:\n${configText(answer.config, agent ? "the fleet's" : "the master's CLOUDFLARED_IMAGE")}${sent}${failed}${rollout}`;
      });
    },
  },
  requestCommand({
    words: ['cloudflared', 'show'],
    args: '',
    summary: "the fleet's cloudflared image and settings (a host's: agents show)",
    arity: 0,
    method: 'GET',
    path: '/cloudflared',
    response: fleetCloudflaredResponseSchema,
    text: (answer) => configText(answer.config, `${answer.defaultImage} (the master's CLOUDFLARED_IMAGE)`),
  }),
  requestCommand({
    words: ['cloudflared', 'rollout', 'start'],
    args: '--image REF [--canary ID,ID] [--canary-size N] [--wave-size N] [--wave-timeout SECONDS]',
    summary:
      'roll a new fleet cloudflared image out in waves, the canary first; a wave goes on once its hosts are ready and connected at Cloudflare, a failed one halts it and the hosts go back',
    options: { image: { type: 'string' }, ...ROLLOUT_OPTIONS },
    arity: 0,
    method: 'POST',
    path: '/cloudflared/rollouts',
    response: rolloutResponseSchema,
    body: (context) => {
      const image = context.options.image as string | undefined;
      if (!image) throw new UsageError('rollout start needs --image REF');
      return { image, ...rolloutOptionsFrom(context) };
    },
    text: (answer) => rolloutText(answer.rollout),
  }),
  requestCommand({
    words: ['cloudflared', 'rollout', 'list'],
    args: '',
    summary: 'rollouts of the fleet cloudflared image, newest first',
    arity: 0,
    method: 'GET',
    path: '/cloudflared/rollouts',
    response: listRolloutsResponseSchema,
    text: (answer) =>
      formatTable(
        ['ID', 'IMAGE', 'STATUS', 'STARTED', 'FINISHED'],
        answer.rollouts.map((r) => [
          r.id,
          r.image,
          r.status,
          shortTime(r.startedAt),
          shortTime(r.finishedAt),
        ]),
      ),
  }),
  {
    words: ['cloudflared', 'rollout', 'show'],
    args: '[ID]',
    summary: 'a rollout (default: the newest) and each host in it',
    arity: [0, 1],
    async run(context) {
      const client = context.client();
      let id = context.positionals[0];
      if (id === undefined) {
        const { rollouts } = await client.request('GET', '/cloudflared/rollouts', listRolloutsResponseSchema);
        if (rollouts.length === 0) {
          output(context, { rollout: null }, () => 'No rollout yet.\n');
          return;
        }
        id = rollouts[0]!.id;
      }
      const answer = await client.request(
        'GET',
        `/cloudflared/rollouts/${encodeURIComponent(id)}`,
        rolloutResponseSchema,
      );
      output(context, answer, () => rolloutText(answer.rollout));
    },
  },
  requestCommand({
    words: ['cloudflared', 'rollout', 'abort'],
    args: 'ID',
    summary: 'halt a running rollout: the hosts it reached go back to the previous image',
    arity: 1,
    method: 'POST',
    path: (context) => `/cloudflared/rollouts/${encodeURIComponent(context.positionals[0]!)}/abort`,
    response: rolloutResponseSchema,
    text: (answer) => rolloutText(answer.rollout),
  }),
];
