import {
  type ListRoutesResponse,
  listAgentsResponseSchema,
  listRoutesResponseSchema,
  type PublicRoutesResponse,
  publicRoutesResponseSchema,
  type RetainedRouteView,
  type RouteDetail,
  type RouteTrafficView,
  routeDetailResponseSchema,
} from '@tunnelfleet/common';
import { z } from 'zod';
import { type CliCommand, output } from '../cli-context.js';
import { requestCommand } from '../request-command.js';
import { formatFields, formatTable, shortTime } from '../table.js';

/** A problem as the label parser reports it; older rows may hold plain strings. */
function problemText(problem: unknown): string {
  if (typeof problem === 'string') return problem;
  const { severity, message } = (problem ?? {}) as { severity?: string; message?: string };
  return `${severity ?? 'problem'}: ${message ?? JSON.stringify(problem)}`;
}

/**
 * Retained routes have no container and stay published until deleted: a section of their own,
 * with the id `routes delete-retained` takes, so an operator sees what is still served.
 */
function retainedRows(retained: RetainedRouteView[], agentNames: Map<string, string>): string {
  return (
    '\nRetained (tunnelfleet.cleanup=false, container gone; still published until deleted with ' +
    '`tunnelfleet routes delete-retained <id>` or their agent is revoked):\n' +
    formatTable(
      ['ID', 'HOSTNAME', 'SERVICE', 'AGENT', 'CONTAINER', 'RETAINED'],
      retained.map((route) => [
        route.id,
        `${route.hostname}${route.path && route.path !== '/' ? route.path : ''}`,
        route.service,
        agentNames.get(route.agentId) ?? route.agentId,
        route.containerName,
        shortTime(route.retainedAt),
      ]),
    )
  );
}

function routeRows({ routes, retained }: ListRoutesResponse, agentNames: Map<string, string>): string {
  const kept = retained.length > 0 ? retainedRows(retained, agentNames) : '';
  if (routes.length === 0)
    return `No routes. Label a container with tunnelfleet.enable=true (docs/labels.md).\n${kept}`;
  // The wake state only when some route wakes on request (sleeping, starting, running, failed).
  const wakes = routes.some((route) => route.wakeState !== null);
  // The gateway group only when some route shares its hostname and path through the gateway.
  const groups = routes.some((route) => route.gatewayGroup !== null);
  const groupOf = ({ id, gatewayGroup }: (typeof routes)[number]) =>
    gatewayGroup ? `${gatewayGroup.indexOf(id) + 1} of ${gatewayGroup.length}` : '-';
  let text = formatTable(
    [
      'HOSTNAME',
      'SERVICE',
      'STATUS',
      ...(wakes ? ['WAKE'] : []),
      ...(groups ? ['GROUP'] : []),
      'AGENT',
      'CONTAINER',
      'TUNNEL',
    ],
    routes.map((route) => [
      `${route.hostname ?? '-'}${route.path && route.path !== '/' ? route.path : ''}`,
      route.service ?? '-',
      route.status,
      ...(wakes ? [route.wakeState ?? '-'] : []),
      ...(groups ? [groupOf(route)] : []),
      agentNames.get(route.agentId) ?? route.agentId,
      route.replicas > 1 ? `${route.containerName} (1 of ${route.replicas} replicas)` : route.containerName,
      route.tunnelName ?? '(agent)',
    ]),
  );
  const problems = routes.flatMap((route) => {
    const where = route.hostname ?? `${route.containerName}/${route.routeKey}`;
    const lines = route.problems.map((problem) => `${where}: ${problemText(problem)}`);
    // The status message usually repeats the first problem; show it only when it says more.
    if (route.statusMessage && !lines.some((line) => line.endsWith(route.statusMessage!)))
      lines.unshift(`${where}: ${route.statusMessage}`);
    return lines;
  });
  if (problems.length > 0) text += `\nProblems:\n${problems.map((line) => `  ${line}`).join('\n')}\n`;
  // Who served a route before: a recreate (`docker compose up -d`) or a scale-down hands it over.
  const history = routes.flatMap((route) => {
    const last = route.replaced[0];
    if (!last) return [];
    const where = route.hostname ?? `${route.containerName}/${route.routeKey}`;
    return [
      `${where}: served by ${route.containerName} (${route.containerId.slice(0, 12)}), which replaced ` +
        `${last.containerName} (${last.containerId.slice(0, 12)}) at ${last.replacedAt}`,
    ];
  });
  if (history.length > 0) text += `\nReplaced:\n${history.map((line) => `  ${line}`).join('\n')}\n`;
  return text + kept;
}

/** The public-routes report: what anyone can reach, and whether the labels meant it. */
function publicRows(
  { requireAccess, routes }: PublicRoutesResponse,
  agentNames: Map<string, string>,
): string {
  const setting = requireAccess
    ? 'REQUIRE_ACCESS is on: a route without Access is published only when marked tunnelfleet.access.public=true.'
    : 'REQUIRE_ACCESS is off: a route without access.* labels is published without Access.';
  if (routes.length === 0) return `No hostname is served without Access.\n${setting}\n`;
  const table = formatTable(
    ['HOSTNAME', 'SERVICE', 'STATUS', 'AGENT', 'CONTAINER', 'PUBLIC'],
    routes.map((route) => [
      `${route.hostname}${route.path && route.path !== '/' ? route.path : ''}`,
      route.service ?? '-',
      route.status,
      agentNames.get(route.agentId) ?? route.agentId,
      route.containerName,
      route.markedPublic ? 'marked public' : 'no access.* labels',
    ]),
  );
  return `${table}\n${setting}\n`;
}

/** `8 requests (2xx 7, 5xx 1), 3 ms on average; 1 wake (1.5 s), 0 timed out; 1 idle stop`. */
function trafficText(traffic: RouteTrafficView | null): string {
  if (!traffic) return '- (not through a gateway, or nothing counted since the master started)';
  const classes = Object.entries(traffic.requestsByStatusClass)
    .filter(([, count]) => count > 0)
    .map(([statusClass, count]) => `${statusClass} ${count}`);
  const mean = (seconds: number, count: number, unit: 'ms' | 's') =>
    count === 0
      ? ''
      : unit === 'ms'
        ? `${Math.round((seconds / count) * 1000)} ms`
        : `${(seconds / count).toFixed(1)} s`;
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  return [
    `${plural(traffic.requests, 'request')}${classes.length > 0 ? ` (${classes.join(', ')})` : ''}${
      traffic.requests > 0 ? `, ${mean(traffic.requestSeconds, traffic.requests, 'ms')} on average` : ''
    }`,
    `${plural(traffic.wakes, 'wake')}${traffic.wakes > 0 ? ` (${mean(traffic.wakeSeconds, traffic.wakes, 's')} on average)` : ''}, ${traffic.wakeTimeouts} timed out`,
    `${plural(traffic.idleStops, 'idle stop')} (as of ${shortTime(traffic.reportedAt)})`,
  ].join('; ');
}

function routeDetailText({ route, language, traffic }: RouteDetail): string {
  return formatFields([
    ['ID', String(route.id)],
    ['Hostname', `${route.hostname ?? '-'}${route.path && route.path !== '/' ? route.path : ''}`],
    ['Service', route.service ?? '-'],
    ['Status', `${route.status}${route.statusMessage ? `: ${route.statusMessage}` : ''}`],
    ['Wake', route.wakeState ?? '-'],
    ['Agent', route.agentId],
    ['Container', route.containerName],
    ['Labels', language ?? '-'],
    ['Traffic', trafficText(traffic)],
  ]);
}

export const routeCommands: CliCommand[] = [
  {
    words: ['routes', 'list'],
    args: '[--status S|retained] [--agent ID] [--hostname NAME]',
    summary: 'routes with their status and problems, then retained routes',
    options: { status: { type: 'string' }, agent: { type: 'string' }, hostname: { type: 'string' } },
    arity: 0,
    async run(context) {
      const query = new URLSearchParams();
      for (const [option, parameter] of [
        ['status', 'status'],
        ['agent', 'agentId'],
        ['hostname', 'hostname'],
      ] as const) {
        const value = context.options[option];
        if (typeof value === 'string') query.set(parameter, value);
      }
      const client = context.client();
      const answer = await client.request(
        'GET',
        `/routes${query.size > 0 ? `?${query}` : ''}`,
        listRoutesResponseSchema,
      );
      if (context.json) return output(context, answer, () => '');
      const { agents } = await client.request('GET', '/agents', listAgentsResponseSchema);
      output(context, answer, () => routeRows(answer, new Map(agents.map((a) => [a.id, a.name]))));
    },
  },
  requestCommand({
    words: ['routes', 'show'],
    args: '<route id>',
    summary: "one route: status, wake state, and its traffic through the host's gateway",
    arity: 1,
    method: 'GET',
    path: (context) => `/routes/${encodeURIComponent(context.positionals[0]!)}`,
    response: routeDetailResponseSchema,
    text: (answer) => routeDetailText(answer.detail),
  }),
  {
    words: ['routes', 'public'],
    args: '',
    summary: 'hostnames served without Access, and whether their labels mark them public',
    arity: 0,
    async run(context) {
      const client = context.client();
      const answer = await client.request('GET', '/routes/public', publicRoutesResponseSchema);
      if (context.json) return output(context, answer, () => '');
      const { agents } = await client.request('GET', '/agents', listAgentsResponseSchema);
      output(context, answer, () => publicRows(answer, new Map(agents.map((a) => [a.id, a.name]))));
    },
  },
  requestCommand({
    words: ['routes', 'delete-retained'],
    args: '<retained route id>',
    summary: 'stop publishing a retained route (its rule, record and app are removed)',
    arity: 1,
    method: 'DELETE',
    path: (context) => `/routes/retained/${encodeURIComponent(context.positionals[0]!)}`,
    // 204: no body.
    response: z.null(),
    json: (_, context) => ({ deleted: context.positionals[0] }),
    text: (_, context) =>
      `Deleted retained route ${context.positionals[0]}; Cloudflare follows within seconds.\n`,
  }),
];
