import {
  deleteSharedTunnelResponseSchema,
  listSharedTunnelsResponseSchema,
  SHARED_TUNNEL_MAX_MEMBERS,
  type SharedTunnelView,
  sharedTunnelResponseSchema,
} from '@tunnelfleet/common';
import type { CliCommand, CliContext } from '../cli-context.js';
import { requestCommand } from '../request-command.js';
import { formatTable, shortTime } from '../table.js';

function tunnelText(tunnel: SharedTunnelView): string {
  const members = formatTable(
    ['AGENT', 'NAME', 'ADDED', 'CONNECTOR'],
    tunnel.members.map((m) => [
      m.agentId,
      m.agentName,
      shortTime(m.addedAt),
      m.connector ? `${m.connector.state}${m.connector.ready ? ', connected' : ''}` : 'not reported',
    ]),
    'No members yet: tunnelfleet tunnels add-member <name> <agent id>\n',
  );
  return (
    `Name       ${tunnel.name}\nTunnel id  ${tunnel.tunnelId}\nCreated    ${shortTime(tunnel.createdAt)}\n` +
    `Routes     ${tunnel.routes} naming it\nMembers    ${tunnel.members.length} of at most ${SHARED_TUNNEL_MAX_MEMBERS}\n\n${members}`
  );
}

const tunnelPath = (context: CliContext, suffix = '') =>
  `/tunnels/${encodeURIComponent(context.positionals[0]!)}${suffix}`;

export const sharedTunnelCommands: CliCommand[] = [
  requestCommand({
    words: ['tunnels', 'list'],
    args: '',
    summary: 'shared tunnels, their members and how many routes name them',
    arity: 0,
    method: 'GET',
    path: '/tunnels',
    response: listSharedTunnelsResponseSchema,
    text: (answer) =>
      formatTable(
        ['NAME', 'TUNNEL ID', 'MEMBERS', 'ROUTES'],
        answer.tunnels.map((t) => [
          t.name,
          t.tunnelId,
          t.members.map((m) => m.agentId).join(',') || '-',
          String(t.routes),
        ]),
        'No shared tunnels. Create one with: tunnelfleet tunnels create <name> --member <agent id>...\n',
      ),
  }),
  requestCommand({
    words: ['tunnels', 'show'],
    args: '<name>',
    summary: 'a shared tunnel and its members',
    arity: 1,
    method: 'GET',
    path: (context) => tunnelPath(context),
    response: sharedTunnelResponseSchema,
    text: ({ tunnel }) => tunnelText(tunnel),
  }),
  requestCommand({
    words: ['tunnels', 'create'],
    args: '<name> [--member AGENT_ID]...',
    summary: `create a shared tunnel at Cloudflare; each member (at most ${SHARED_TUNNEL_MAX_MEMBERS}) runs a connector for it, and its routes may name it with the tunnel label`,
    options: { member: { type: 'string', multiple: true } },
    arity: 1,
    method: 'POST',
    path: '/tunnels',
    response: sharedTunnelResponseSchema,
    body: (context) => ({
      name: context.positionals[0],
      members: (context.options.member as string[] | undefined) ?? [],
    }),
    text: ({ tunnel }) => `Created shared tunnel ${tunnel.name}.\n${tunnelText(tunnel)}`,
  }),
  requestCommand({
    words: ['tunnels', 'add-member'],
    args: '<name> <agent id>',
    summary: 'add a member agent: it is sent a connector for the tunnel (repeat it to send it again)',
    arity: 2,
    method: 'POST',
    path: (context) => tunnelPath(context, '/members'),
    response: sharedTunnelResponseSchema,
    body: (context) => ({ agentId: context.positionals[1] }),
    text: ({ tunnel }) => tunnelText(tunnel),
  }),
  requestCommand({
    words: ['tunnels', 'remove-member'],
    args: '<name> <agent id>',
    summary: 'remove a member agent: its connector stops and its routes naming the tunnel become invalid',
    arity: 2,
    method: 'DELETE',
    path: (context) => tunnelPath(context, `/members/${encodeURIComponent(context.positionals[1]!)}`),
    response: sharedTunnelResponseSchema,
    text: ({ tunnel }) => tunnelText(tunnel),
  }),
  requestCommand({
    words: ['tunnels', 'rotate'],
    args: '<name>',
    summary: 'new secret for a shared tunnel; every member gets the new token (the old one is refused)',
    arity: 1,
    method: 'POST',
    path: (context) => tunnelPath(context, '/rotate-secret'),
    response: sharedTunnelResponseSchema,
    text: ({ tunnel }) => `New secret for shared tunnel ${tunnel.name}; sent to its members.\n`,
  }),
  requestCommand({
    words: ['tunnels', 'delete'],
    args: '<name>',
    summary:
      'delete a shared tunnel: every connector stops, its records, rules and Access apps are withdrawn',
    arity: 1,
    method: 'DELETE',
    path: (context) => tunnelPath(context),
    response: deleteSharedTunnelResponseSchema,
    text: (answer) =>
      `Deleted shared tunnel ${answer.name} (${answer.tunnelId}). Connectors stopped on: ${
        answer.stoppedMembers.join(', ') || 'none'
      }. ${answer.routes} route(s) named it: now invalid, their records, rules and Access apps withdrawn.\n`,
  }),
];
