import {
  type AgentDetail,
  type AgentView,
  agentActionResponseSchema,
  agentDetailResponseSchema,
  type GatewayHeartbeat,
  listAgentsResponseSchema,
  rotateAllResponseSchema,
} from '@tunnelfleet/common';
import { type CliCommand, output } from '../cli-context.js';
import { UsageError } from '../cli-errors.js';
import { requestCommand } from '../request-command.js';
import { formatFields, formatTable, shortTime } from '../table.js';
import { settingsText } from './cloudflared.js';

function agentRows(agents: AgentView[]): string {
  return formatTable(
    ['ID', 'NAME', 'STATUS', 'TUNNEL', 'ONLINE', 'LAST SEEN', 'HOSTNAME', 'VERSION', 'CLOUDFLARED'],
    agents.map((agent) => [
      agent.id,
      agent.name,
      agent.status,
      agent.tunnelStatus,
      agent.online ? 'yes' : 'no',
      shortTime(agent.lastSeenAt),
      agent.hostname ?? '-',
      agent.agentVersion ?? '-',
      agent.cloudflared?.version ?? '-',
    ]),
    'No agents yet. Start one with a key from: tunnelfleet keys create <name> --allow PATTERN (or --allow-any)\n',
  );
}

/** The host's L7 gateway as its last heartbeat reported it. */
function gatewayText(gateway: GatewayHeartbeat | undefined): string {
  if (!gateway) return 'none (GATEWAY_IMAGE not set): routes that wake on request are not published';
  return `${gateway.state}, ${gateway.ready ? 'ready' : 'not ready'}${
    gateway.tableVersion !== undefined ? `, table version ${gateway.tableVersion}` : ', no table yet'
  } at ${gateway.serviceUrl ?? '-'} (${gateway.image})`;
}

function agentDetail(agent: AgentDetail): string {
  const cloudflared = agent.lastState?.cloudflared as
    | { state?: string; ready?: boolean; problem?: { message?: string } }
    | undefined;
  const lines: [string, string][] = [
    ['ID', agent.id],
    ['Name', agent.name],
    ['Status', agent.status],
    ['Online', agent.online ? 'yes' : 'no'],
    ['Last seen', shortTime(agent.lastSeenAt)],
    ['Hostname', agent.hostname ?? '-'],
    ['Version', agent.agentVersion ?? '-'],
    ['Key', agent.keyId],
    [
      'Tunnel',
      agent.tunnel
        ? `${agent.tunnel.name} (${agent.tunnel.id})${agent.tunnel.deletedAt ? ' deleted' : ''}`
        : '-',
    ],
    ['Tunnel status', agent.pausedAt ? `paused since ${shortTime(agent.pausedAt)}` : 'running'],
    [
      'cloudflared',
      cloudflared
        ? `${cloudflared.state ?? '?'}${cloudflared.ready ? ', connected' : ', not connected'}${
            cloudflared.problem?.message ? `: ${cloudflared.problem.message}` : ''
          }`
        : '-',
    ],
    [
      'cloudflared runs',
      agent.cloudflared
        ? `${agent.cloudflared.version ?? 'version unknown'} (${agent.cloudflared.image ?? 'image unknown'})${
            agent.cloudflared.connectorId ? `, connector ${agent.cloudflared.connectorId}` : ''
          }${agent.cloudflared.configVersion !== null ? `, config version ${agent.cloudflared.configVersion}` : ''}`
        : '-',
    ],
    [
      'cloudflared wanted',
      `${agent.cloudflaredConfig.image}, ${settingsText(agent.cloudflaredConfig.settings)}${
        agent.cloudflaredConfig.overridden ? " (this host's override)" : ''
      }`,
    ],
    ['Gateway', gatewayText(agent.lastState?.gateway as GatewayHeartbeat | undefined)],
    ['Routes', String(agent.routes)],
  ];
  let text = formatFields(lines);
  if (agent.containers.length > 0) {
    text += `\nContainers:\n${formatTable(
      ['NAME', 'STATE', 'ID', 'UPDATED'],
      agent.containers.map((c) => [c.name, c.state, c.containerId.slice(0, 12), shortTime(c.updatedAt)]),
    )}`;
  }
  return text;
}

function agentPath(context: { positionals: string[] }, suffix = ''): string {
  return `/agents/${encodeURIComponent(context.positionals[0]!)}${suffix}`;
}

/** `agents approve|revoke|pause|resume <agent id>`: one POST, answered with the agent. */
function agentAction(
  action: 'approve' | 'revoke' | 'pause' | 'resume',
  summary: string,
  done: string,
): CliCommand {
  return requestCommand({
    words: ['agents', action],
    args: '<agent id>',
    summary,
    arity: 1,
    method: 'POST',
    path: (context) => agentPath(context, `/${action}`),
    response: agentActionResponseSchema,
    text: (answer) => `${done} agent ${answer.agent.id} (${answer.agent.name}).\n`,
  });
}

export const agentCommands: CliCommand[] = [
  requestCommand({
    words: ['agents', 'list'],
    args: '',
    summary: 'list agents with status and last heartbeat',
    arity: 0,
    method: 'GET',
    path: '/agents',
    response: listAgentsResponseSchema,
    text: (answer) => agentRows(answer.agents),
  }),
  requestCommand({
    words: ['agents', 'show'],
    args: '<agent id>',
    summary: 'one agent: tunnel, cloudflared, containers',
    arity: 1,
    method: 'GET',
    path: (context) => agentPath(context),
    response: agentDetailResponseSchema,
    text: (answer) => agentDetail(answer.agent),
  }),
  agentAction('approve', 'approve a pending agent (--manual-approval keys)', 'Approved'),
  agentAction('revoke', 'revoke an agent: cut off, its tunnel deleted', 'Revoked'),
  agentAction('pause', "stop an agent's cloudflared until resumed; routes are kept", 'Paused'),
  agentAction('resume', "start a paused agent's cloudflared again", 'Resumed'),
  {
    words: ['agents', 'rotate'],
    args: '<agent id> | --all',
    summary: 'new tunnel secret for an agent (--all: every agent)',
    options: { all: { type: 'boolean' } },
    arity: [0, 1],
    async run(context) {
      const all = context.options.all === true;
      if (all === (context.positionals.length === 1))
        throw new UsageError('agents rotate takes an agent id or --all, not both');
      if (!all) {
        const answer = await context
          .client()
          .request('POST', agentPath(context, '/rotate-secret'), agentActionResponseSchema);
        output(
          context,
          answer,
          () => `Rotated the tunnel secret of agent ${answer.agent.id} (${answer.agent.name}).\n`,
        );
        return;
      }
      const answer = await context.client().request('POST', '/agents/rotate-secret', rotateAllResponseSchema);
      output(context, answer, () =>
        formatTable(
          ['AGENT', 'ROTATED', 'ERROR'],
          answer.results.map((r) => [r.agentId, r.rotated ? 'yes' : 'no', r.error ?? '-']),
          'No approved agent with a tunnel.\n',
        ),
      );
    },
  },
];
