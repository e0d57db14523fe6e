import type { Container, CreateKeyRequest, RegisterRequest, RouteView } from '@tunnelfleet/common';
import { afterAll, beforeAll, expect } from 'vitest';
import { waitFor } from '../harness/wait-for.js';
import { type Fleet, type FleetHost, type FleetOptions, startFleet } from '../system/fleet.js';
import { connectProtocolAgent, type ProtocolAgent, reportedContainer } from '../system/protocol-agent.js';

/** What a user checks at Cloudflare: records, ingress rules per tunnel, Access applications. */
export interface CloudView {
  records: Array<{
    id: string;
    name: string;
    type: string;
    content: string;
    proxied: boolean;
    comment: string | null;
  }>;
  /** live tunnel id → ingress rules (catch-all included) */
  ingress: Map<string, Array<{ hostname?: string; path?: string; service: string }>>;
  apps: Array<{ id: string; domain: string; name: string }>;
}

export const CONVERGE_TIMEOUT_MS = 60_000;
const FLEET_START_TIMEOUT_MS = 180_000;

/**
 * One fleet per test file: started before the file's tests, and after them its logs are scanned
 * for every secret of the run (API keys, tunnel tokens, the Cloudflare and admin tokens) before
 * everything it created is removed.
 */
export function useFleet(options: FleetOptions): () => Fleet {
  let fleet: Fleet | undefined;
  beforeAll(async () => {
    fleet = await startFleet(options);
    // Each host has its tunnel and a connected cloudflared before a scenario starts.
    await Promise.all([fleet.a, fleet.b].map((host) => tunnelIdOf(fleet!, host)));
    await fleet.collectSecrets();
  }, FLEET_START_TIMEOUT_MS);
  afterAll(async () => {
    if (!fleet) return;
    try {
      // A scan of empty logs would prove nothing.
      for (const service of [fleet.master, fleet.a.agent, fleet.b.agent])
        expect(await service.logs(), `${service.label} log`).not.toBe('');
      const leaks = await fleet.leakedSecrets();
      expect(leaks, 'secrets found in the master and agent logs').toEqual([]);
    } finally {
      await fleet.teardown();
    }
  }, FLEET_START_TIMEOUT_MS);
  return () => {
    if (!fleet) throw new Error('the fleet did not start (see beforeAll)');
    return fleet;
  };
}

export function cloudView(fleet: Fleet): CloudView {
  const ingress = new Map<string, Array<{ hostname?: string; path?: string; service: string }>>();
  for (const tunnel of fleet.emulator.tunnels()) {
    // A deleted tunnel routes nothing, whatever its last configuration said.
    if (tunnel.deleted_at) continue;
    const config = fleet.emulator.tunnelConfig(String(tunnel.id))?.config as { ingress?: [] } | undefined;
    ingress.set(String(tunnel.id), config?.ingress ?? []);
  }
  return {
    records: fleet.emulator.dnsRecords() as CloudView['records'],
    ingress,
    apps: fleet.emulator.accessApps() as unknown as CloudView['apps'],
  };
}

/** The id of the host's own tunnel, once the master created it and the host's cloudflared connected. */
export async function tunnelIdOf(fleet: Fleet, host: FleetHost): Promise<string> {
  const agentId = await host.agentId();
  const tunnelId = await waitFor(async () => (await fleet.admin.agent(agentId)).tunnel?.id, {
    description: `${host.name}'s tunnel at the master`,
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
  await waitFor(() => fleet.emulator.tunnelConnections(tunnelId).length > 0, {
    description: `${host.name}'s cloudflared to connect to the edge`,
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
  return tunnelId;
}

/** Rules of every tunnel for this hostname (and path, when given). */
export function rulesFor(view: CloudView, hostname: string) {
  return [...view.ingress.entries()].flatMap(([tunnelId, rules]) =>
    rules.filter((rule) => rule.hostname === hostname).map((rule) => ({ tunnelId, ...rule })),
  );
}

export interface Publication {
  record: CloudView['records'][number];
  rule: { tunnelId: string; hostname?: string; path?: string; service: string };
  app: CloudView['apps'][number] | undefined;
}

/**
 * Waits until `hostname` is published through the host's tunnel: one proxied CNAME to the tunnel,
 * one ingress rule in that tunnel (and no other), and an Access app when `access` is set.
 */
export async function waitPublished(
  fleet: Fleet,
  host: FleetHost,
  hostname: string,
  options: { access?: boolean } = {},
): Promise<Publication> {
  const tunnelId = await tunnelIdOf(fleet, host);
  return waitFor(
    () => {
      const view = cloudView(fleet);
      const records = view.records.filter((r) => r.name === hostname);
      const rules = rulesFor(view, hostname);
      const apps = view.apps.filter((a) => a.domain === hostname);
      if (records.length !== 1 || rules.length !== 1) return undefined;
      const [record] = records;
      const [rule] = rules;
      if (record!.content !== `${tunnelId}.cfargotunnel.com` || rule!.tunnelId !== tunnelId) return undefined;
      if (options.access && apps.length !== 1) return undefined;
      return { record: record!, rule: rule!, app: apps[0] };
    },
    { description: `${hostname} published through ${host.name}'s tunnel`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
}

/** Waits until Cloudflare holds no record, rule or Access app for `hostname`. */
export async function waitUnpublished(fleet: Fleet, hostname: string, timeoutMs = CONVERGE_TIMEOUT_MS) {
  await waitFor(
    () => {
      const view = cloudView(fleet);
      return (
        !view.records.some((r) => r.name === hostname) &&
        rulesFor(view, hostname).length === 0 &&
        !view.apps.some((a) => a.domain === hostname)
      );
    },
    { description: `${hostname} gone from Cloudflare`, timeoutMs },
  );
}

/** The master's routes for one hostname, as `GET /api/v1/admin/routes?hostname=` shows them. */
export async function routesOf(fleet: Fleet, hostname: string): Promise<RouteView[]> {
  return fleet.admin.routes({ hostname });
}

export async function waitRouteStatus(fleet: Fleet, hostname: string, agentId: string, status: string) {
  return waitFor(
    async () => (await routesOf(fleet, hostname)).find((r) => r.agentId === agentId && r.status === status),
    { description: `the route ${hostname} of ${agentId} to be ${status}`, timeoutMs: CONVERGE_TIMEOUT_MS },
  );
}

/**
 * Cloudflare equals the desired state: every hostname the master carries (active or in its grace
 * period, plus `alsoCarried`) has exactly one record and one rule, in the tunnel of the agent
 * that holds it; nothing else of ours exists. Foreign objects are compared separately.
 */
export async function expectConverged(
  fleet: Fleet,
  options: { alsoCarried?: string[]; timeoutMs?: number } = {},
) {
  let lastProblems: string[] = [];
  await waitFor(
    async () => {
      lastProblems = await convergenceProblems(fleet, options.alsoCarried ?? []);
      return lastProblems.length === 0;
    },
    {
      description: 'Cloudflare to equal the desired state',
      timeoutMs: options.timeoutMs ?? CONVERGE_TIMEOUT_MS,
    },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\nproblems:\n${lastProblems.slice(0, 30).join('\n')}`);
  });
}

async function convergenceProblems(fleet: Fleet, alsoCarried: string[]): Promise<string[]> {
  const routes = await fleet.admin.routes();
  const agents = await fleet.admin.agents();
  const tunnelOf = new Map<string, string>();
  for (const agent of agents) {
    const detail = await fleet.admin.agent(agent.id);
    if (detail.tunnel && !detail.tunnel.deletedAt) tunnelOf.set(agent.id, detail.tunnel.id);
  }
  const carried = new Map<string, string | undefined>();
  for (const route of routes) {
    if (route.hostname && (route.status === 'active' || route.status === 'pending_deletion'))
      carried.set(route.hostname, tunnelOf.get(route.agentId));
  }
  for (const hostname of alsoCarried) if (!carried.has(hostname)) carried.set(hostname, undefined);

  const view = cloudView(fleet);
  const problems: string[] = [];
  const ours = view.records.filter((r) => r.comment?.startsWith('managed by tunnelfleet'));
  for (const [hostname, tunnelId] of carried) {
    const records = ours.filter((r) => r.name === hostname);
    const rules = rulesFor(view, hostname);
    if (records.length !== 1) problems.push(`${hostname}: ${records.length} records`);
    if (rules.length !== 1) problems.push(`${hostname}: ${rules.length} ingress rules`);
    if (tunnelId && records[0] && records[0].content !== `${tunnelId}.cfargotunnel.com`)
      problems.push(`${hostname}: record points at ${records[0].content}, not tunnel ${tunnelId}`);
    if (tunnelId && rules[0] && rules[0].tunnelId !== tunnelId)
      problems.push(`${hostname}: rule in tunnel ${rules[0].tunnelId}, not ${tunnelId}`);
  }
  for (const record of ours)
    if (!carried.has(record.name)) problems.push(`${record.name}: record of ours left behind`);
  const ourTunnels = new Set(tunnelOf.values());
  for (const [tunnelId, rules] of view.ingress) {
    if (!ourTunnels.has(tunnelId)) continue;
    for (const rule of rules)
      if (rule.hostname && !carried.has(rule.hostname))
        problems.push(`${rule.hostname}: rule left behind in tunnel ${tunnelId}`);
  }
  return problems;
}

/** Labels of a container publishing `hostname` through Tunnelfleet. */
export function publishLabels(hostname: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'tunnelfleet.enable': 'true', 'tunnelfleet.hostname': hostname, ...extra };
}

/** A hostname no other test of the run uses. */
export function uniqueHostname(prefix: string, zone = 'example.com'): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}.${zone}`;
}

/** Everything of the victim's at Cloudflare, serialised: any change to it shows as a diff. */
export function victimState(f: Fleet, victimHostname: string, victimTunnelId: string): string {
  const view = cloudView(f);
  const onVictimHostname = (name: string) => name === victimHostname || name.endsWith(`.${victimHostname}`);
  const tunnel = f.emulator.tunnelConfig(victimTunnelId);
  return JSON.stringify(
    {
      records: view.records.filter((record) => onVictimHostname(record.name)),
      tunnelConfig: tunnel,
      // The whole app objects (cloudView types only the fields tests usually read).
      apps: view.apps.filter((app) => onVictimHostname(app.domain.split('/')[0]!)),
    },
    null,
    2,
  );
}

/**
 * Host B publishes a hostname of `example.org` behind an Access app: the victim of an attack test.
 * Returns its tunnel and its state at Cloudflare, to compare with `victimState` at the end.
 */
export async function publishVictim(f: Fleet, prefix: string) {
  const hostname = uniqueHostname(prefix, 'example.org');
  await f.b.runContainer({
    labels: publishLabels(hostname, { 'tunnelfleet.access.emails': 'boss@example.com' }),
  });
  await waitPublished(f, f.b, hostname, { access: true });
  const tunnelId = await tunnelIdOf(f, f.b);
  return { hostname, tunnelId, before: victimState(f, hostname, tunnelId) };
}

/**
 * The attacker also publishes one honest route in the victim's zone: once its record exists, the
 * zone's sync that would have carried an attack has run.
 */
export async function waitForBarrier(f: Fleet, barrier: string) {
  await waitFor(() => cloudView(f).records.some((record) => record.name === barrier), {
    description: `the attacker's own route ${barrier} published (the sync after the attack ran)`,
    timeoutMs: CONVERGE_TIMEOUT_MS,
  });
}

/**
 * A protocol agent reports these containers and an honest one publishing `barrier`; resolves once
 * the master settled the report (the barrier is published).
 */
export async function reportWithBarrier(
  f: Fleet,
  agent: ProtocolAgent,
  barrier: string,
  containers: Container[],
): Promise<void> {
  const answer = await agent.report([
    ...containers,
    reportedContainer(
      'eb',
      'honest',
      publishLabels(barrier, { 'tunnelfleet.service': 'http://10.0.0.6:80' }),
    ),
  ]);
  if (answer.status !== 200) throw new Error(`report refused: ${JSON.stringify(answer.body)}`);
  await waitForBarrier(f, barrier);
}

/** An agent that speaks only the protocol, with its own key: the compromised or careless host. */
export async function attacker(
  f: Fleet,
  name: string,
  hostnameAllowlist: string[],
  servicePolicy?: CreateKeyRequest['servicePolicy'],
  /** More of its registration, e.g. `{ labelPrefixes: { dockflare: 'evil' } }`. */
  registration: Partial<RegisterRequest> = {},
): Promise<ProtocolAgent> {
  const { key } = await f.admin.createKey({
    name,
    autoApprove: true,
    hostnameAllowlist,
    ...(servicePolicy ? { servicePolicy } : {}),
  });
  f.secrets.add(`API key ${name}`, key);
  return connectProtocolAgent(f.master.url, key, name, registration);
}

/**
 * The Cloudflare writes (`METHOD path`) that could change a route of this tunnel in this zone: the
 * tunnel's, the zone's, and any Access write.
 */
export function writesTouching(f: Fleet, tunnelId: string, zone: string): string[] {
  const zoneId = f.cloudflare.zones[zone]!;
  return f.emulator
    .writes()
    .map((w) => `${w.method} ${w.path}`)
    .filter((w) => w.includes(tunnelId) || w.includes(zoneId) || w.includes('/access/'));
}
