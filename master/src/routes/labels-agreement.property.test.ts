import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Container,
  DEFAULT_SERVICE_POLICY,
  type LabelParseResult,
  type LabelPrefixes,
  SERVICE_KINDS,
  type ServiceKind,
} from '@tunnelfleet/common';
import { runLabelsCheck } from '@tunnelfleet/common/labels-check';
import { type CloudflareEmulator, startCloudflareEmulator } from '@tunnelfleet/test';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareLayer, createCloudflareLayer } from '../cloudflare/cloudflare-layer.js';
import { insertAgentKey } from '../store/agent-keys.js';
import { approveAgent, insertAgent } from '../store/agents.js';
import { upsertContainer } from '../store/containers.js';
import { openDatabase, type SqliteDatabase } from '../store/database.js';
import { listRoutes } from '../store/routes.js';
import { upsertTunnel } from '../store/tunnels.js';
import { createRoutesEngine } from './routes-engine.js';

/**
 * The offline label checker (`tunnelfleet-labels check`) and the master's routes engine must give
 * every route of a label set the same verdict: invalid for one ⇔ invalid for the other. The
 * checker is told what it can be told (`--allow-service` for the key's service policy,
 * `--require-access` for REQUIRE_ACCESS). What it cannot know is listed in `MASTER_ONLY`: a route
 * the checker accepts may be invalid on the master for exactly those reasons, each asserted by its
 * message. Whether a named Access policy is defined is decided later, by the Access sync (status
 * `error`, never `invalid`), and dropping Access needs an earlier published route: each run uses a
 * fresh agent, so neither can show here. A `containerOnly` key judges the service by the
 * container's networks, which the checker does not read: the keys here are not `containerOnly`.
 * (1,500 runs were tried once, with no disagreement; 200 keep the suite quick.)
 */
const MANAGED_ZONE = 'example.com';
const MASTER_ONLY = {
  /** Only the master knows the key's allowlist ("any hostname" here, which never includes wildcards). */
  keyAllowlist: 'needs a key whose allowlist names it',
  /** Only the master knows its zones. */
  unmanagedZone: 'is not in a zone this master manages',
  /** Only the master knows the agent's tunnel name. */
  foreignTunnel: "is not this agent's tunnel",
};

let emulator: CloudflareEmulator;
let cloudflare: CloudflareLayer;
let dir: string;
let db: SqliteDatabase;
beforeAll(async () => {
  emulator = await startCloudflareEmulator();
  const account = emulator.createAccount('acme');
  emulator.createZone(MANAGED_ZONE, account.id);
  cloudflare = createCloudflareLayer(
    {
      tokens: [],
      defaultToken: emulator.createToken({ accountIds: [account.id], zoneNames: 'all' }),
      accountId: account.id,
      baseURL: emulator.baseUrl,
    },
    pino({ level: 'silent' }),
  );
  dir = mkdtempSync(join(tmpdir(), 'tunnelfleet-labels-agreement-'));
  db = openDatabase(dir);
});
afterAll(async () => {
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  await emulator?.close();
});

const engine = (requireAccess: boolean) =>
  createRoutesEngine({
    db,
    logger: pino({ level: 'silent' }),
    resolveZone: (hostname, zone) => cloudflare.resolveZone(hostname, zone),
    graceSeconds: 600,
    requireAccess,
    onTargetsChanged: () => undefined,
  });

const hostnames = fc.constantFrom(
  'app.example.com',
  'api.example.com',
  '*.example.com',
  'shop.example.org',
  'bad_host',
  'localhost',
  '',
  ' APP.Example.COM ',
);
const services = fc.constantFrom(
  'http://web:80',
  'https://web',
  'tcp://db:5432',
  'http_status:404',
  'http://localhost:8080',
  'http://169.254.169.254',
  'unix:/run/app.sock',
  'bastion',
  'ftp://web',
  '',
);
const paths = fc.constantFrom('^/admin', '/admin', '^/(a|b)', '^/v1.0', '\\.php$', '(', '');
const accessLabels = fc.constantFrom<Record<string, string>>(
  {},
  { 'access.public': 'true' },
  { 'access.public': 'false' },
  { 'access.public': 'true', 'access.emails': 'a@example.com' },
  { 'access.emails': 'a@example.com' },
  { 'access.emails': 'not-an-email' },
  { 'access.email_domains': 'example.com', 'access.exclude.countries': 'RU' },
  { 'access.named_policy': 'staff' },
  { 'access.policy': 'bypass', 'access.emails': 'a@example.com' },
  { 'access.ip_ranges': '10.0.0.0/8' },
);
const dockflareAccess = fc.constantFrom<Record<string, string>>(
  {},
  { 'access.policy': 'bypass' },
  { 'access.policy': 'authenticate' },
  { 'access.policy': 'default_tld' },
  { 'access.policy': 'default_tld', 'access.name': 'ignored' },
  { 'access.policy': 'junk' },
  { 'access.custom_rules': '[{"decision":"allow","include":[{"email":{"email":"a@example.com"}}]}]' },
  { 'access.custom_rules': '[{"decision":"bypass","include":[{"email":{"email":"a@example.com"}}]}]' },
  { 'access.custom_rules': 'not json' },
);
const origin = fc.constantFrom<Record<string, string>>(
  {},
  { 'origin.noTLSVerify': 'true' },
  { 'origin.noTLSVerify': 'maybe' },
  { 'origin.proxyType': 'socks' },
  { 'origin.connectTimeout': '30s' },
  { 'origin.connectTimeout': '-1s' },
);
const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

/** A Tunnelfleet route under `prefix` (`tunnelfleet.` or `tunnelfleet.<name>.`). */
const tunnelfleetRoute = (prefix: string) =>
  fc
    .record({
      hostname: optional(hostnames),
      service: optional(services),
      path: optional(paths),
      zone: optional(fc.constantFrom('example.com', 'example.org', 'other.example.com')),
      tunnel: optional(fc.constantFrom('shared', 'bad name!')),
      access: accessLabels,
      origin,
    })
    .map((r) => {
      const labels: Record<string, string> = {};
      for (const field of ['hostname', 'service', 'path', 'zone', 'tunnel'] as const) {
        const value = r[field];
        if (value !== undefined) labels[`${prefix}${field}`] = value;
      }
      for (const [key, value] of Object.entries({ ...r.access, ...r.origin }))
        labels[`${prefix}${key}`] = value;
      return labels;
    });

/** A DockFlare route under `prefix` (`cloudflare.tunnel.` or `cloudflare.tunnel.<index>.`). */
const dockflareRoute = (prefix: string) =>
  fc
    .record({
      hostname: optional(hostnames),
      service: optional(services),
      path: optional(paths),
      noTlsVerify: optional(fc.constantFrom('true', 'nope')),
      access: dockflareAccess,
    })
    .map((r) => {
      const labels: Record<string, string> = {};
      if (r.hostname !== undefined) labels[`${prefix}hostname`] = r.hostname;
      if (r.service !== undefined) labels[`${prefix}service`] = r.service;
      if (r.path !== undefined) labels[`${prefix}path`] = r.path;
      if (r.noTlsVerify !== undefined) labels[`${prefix}no_tls_verify`] = r.noTlsVerify;
      for (const [key, value] of Object.entries(r.access)) labels[`${prefix}${key}`] = value;
      return labels;
    });

/** A Labelgate tunnel route named `name`. */
const labelgateRoute = (name: string) =>
  fc
    .record({ hostname: optional(hostnames), service: optional(services), path: optional(paths) })
    .map((r) => {
      const labels: Record<string, string> = {};
      for (const field of ['hostname', 'service', 'path'] as const) {
        const value = r[field];
        if (value !== undefined) labels[`labelgate.tunnel.${name}.${field}`] = value;
      }
      return labels;
    });

/** Stray labels of every language, with odd values: misspelt keys, empty values, a second enable. */
const strayLabels = fc.dictionary(
  fc.constantFrom(
    'tunnelfleet.hostnme',
    'tunnelfleet.api.enable',
    'tunnelfleet.dns',
    'tunnelfleet.cleanup',
    'tunnelfleet.access.require.emails',
    'dockflare.enable',
    'dockflare.hostname',
    'dockflare.0.service',
    'cloudflare.tunnel.1.hostname',
    'cloudflare.tunnel.zonename',
    'labelgate.tunnel.web.origin.connect_timeout',
    'labelgate.tunnel.web.origin.no_tls_verify',
    'labelgate.tunnel.web.tunnel',
    'labelgate.access.web.policy.decision',
    'labelgate.access.web.policy.include.emails',
    'labelgate.tunnel.web.access',
  ),
  fc.constantFrom(
    '',
    ' ',
    'true',
    'false',
    'app.example.com',
    'http://web:80',
    '30s',
    'allow',
    'web',
    'a@example.com',
  ),
  { maxKeys: 4 },
);

const labelSets = fc
  .record({
    tunnelfleet: optional(
      fc.tuple(
        fc.constantFrom('true', 'false', 'yes'),
        tunnelfleetRoute('tunnelfleet.'),
        optional(tunnelfleetRoute('tunnelfleet.api.')),
      ),
    ),
    dockflare: optional(
      fc.tuple(dockflareRoute('cloudflare.tunnel.'), optional(dockflareRoute('cloudflare.tunnel.0.'))),
    ),
    labelgate: optional(fc.tuple(labelgateRoute('web'), optional(labelgateRoute('admin')))),
    stray: strayLabels,
  })
  .map(({ tunnelfleet, dockflare, labelgate, stray }) => {
    const labels: Record<string, string> = { ...stray };
    if (tunnelfleet)
      Object.assign(labels, { 'tunnelfleet.enable': tunnelfleet[0] }, tunnelfleet[1], tunnelfleet[2]);
    if (dockflare) Object.assign(labels, { 'cloudflare.tunnel.enable': 'true' }, dockflare[0], dockflare[1]);
    if (labelgate) Object.assign(labels, { 'labelgate.enable': 'true' }, labelgate[0], labelgate[1]);
    return labels;
  });

/**
 * A host's custom prefixes (`LABEL_PREFIX`, `LABELGATE_LABEL_PREFIX`), and whether the labels are
 * written under them: both ways round, so labels under a prefix the host does not have are tried.
 */
const prefixing = fc.record({
  prefixes: fc.constantFrom<LabelPrefixes>(
    {},
    { dockflare: 'mycorp.' },
    { labelgate: 'edge.' },
    { dockflare: 'mycorp.', labelgate: 'edge.' },
  ),
  dockflareUnder: fc.boolean(),
  labelgateUnder: fc.boolean(),
});

/** The labels with DockFlare's legacy prefix written `mycorp.` and Labelgate's `edge.`, as asked. */
function underPrefixes(
  labels: Record<string, string>,
  { dockflareUnder, labelgateUnder }: { dockflareUnder: boolean; labelgateUnder: boolean },
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).map(([key, value]) => [
      dockflareUnder && key.startsWith('cloudflare.tunnel.')
        ? `mycorp.${key.slice('cloudflare.tunnel.'.length)}`
        : labelgateUnder && key.startsWith('labelgate.')
          ? `edge.${key.slice('labelgate.'.length)}`
          : key,
      value,
    ]),
  );
}

/** The checker's verdict through its own entry point, on `docker inspect` JSON as a user pipes it. */
async function check(
  labels: Record<string, string>,
  allow: readonly ServiceKind[],
  requireAccess: boolean,
  prefixes: LabelPrefixes,
): Promise<LabelParseResult & { container: string }> {
  let stdout = '';
  const inspect = [{ Name: '/web', Config: { Labels: labels, ExposedPorts: { '80/tcp': {} } } }];
  await runLabelsCheck(
    [
      'check',
      '--json',
      ...allow.flatMap((kind) => ['--allow-service', kind]),
      ...(requireAccess ? ['--require-access'] : []),
      ...(prefixes.dockflare ? ['--dockflare-prefix', prefixes.dockflare] : []),
      ...(prefixes.labelgate ? ['--labelgate-prefix', prefixes.labelgate] : []),
    ],
    {
      stdin: (async function* () {
        yield JSON.stringify(inspect);
      })(),
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: () => undefined },
    },
  );
  return JSON.parse(stdout)[0];
}

let agents = 0;
/** A fresh approved agent whose key has the service policy `allow` opens, and any hostname. */
function addAgent(allow: readonly ServiceKind[], labelPrefixes: LabelPrefixes): string {
  const id = `ag_${(++agents).toString(16).padStart(16, '0')}`;
  insertAgentKey(db, {
    id: `key_${id}`,
    name: id,
    secretHash: 'x',
    hostnameAllowlist: [],
    allowAnyHostname: true,
    autoApprove: true,
    servicePolicy: { ...DEFAULT_SERVICE_POLICY, allow: [...allow] },
  });
  insertAgent(db, { id, keyId: `key_${id}`, name: id, hostname: null, agentVersion: null, labelPrefixes });
  approveAgent(db, id);
  upsertTunnel(db, { id: `tunnel-${id}`, name: `tf-${id}`, accountId: 'acc', agentId: id });
  return id;
}

describe('the label checker and the master', () => {
  it('agree on every route of generated label sets, apart from what only the master knows', async () => {
    const engines = { on: engine(true), off: engine(false) };
    await fc.assert(
      fc.asyncProperty(
        labelSets,
        fc.subarray([...SERVICE_KINDS]),
        fc.boolean(),
        prefixing,
        async (written, allow, requireAccess, prefixing) => {
          const labels = underPrefixes(written, prefixing);
          const checked = await check(labels, allow, requireAccess, prefixing.prefixes);
          const agentId = addAgent(allow, prefixing.prefixes);
          const container: Container = {
            id: createHash('sha256').update(agentId).digest('hex'),
            name: 'web',
            labels,
            state: 'running',
            networks: {},
            exposedPorts: [{ port: 80, protocol: 'tcp' }],
          };
          upsertContainer(db, agentId, container);
          await engines[requireAccess ? 'on' : 'off'].syncAgentRoutes(agentId);
          const master = new Map(listRoutes(db, { agentId }).map((route) => [route.routeKey, route]));

          const checkerKeys = checked.enabled
            ? [...checked.routes, ...checked.invalidRoutes].map((route) => route.key).sort()
            : [];
          expect([...master.keys()].sort(), 'the same routes').toEqual(checkerKeys);
          for (const route of checked.invalidRoutes) {
            if (!checked.enabled) break;
            expect(master.get(route.key)?.status, `${route.key} invalid for both`).toBe('invalid');
          }
          for (const route of checked.enabled ? checked.routes : []) {
            const row = master.get(route.key)!;
            if (row.status !== 'invalid') continue;
            // Accepted by the checker, invalid on the master: only for a fact the checker cannot know.
            const bare = route.hostname.replace(/^\*\./, '');
            const why = route.hostname.startsWith('*.')
              ? MASTER_ONLY.keyAllowlist
              : (bare !== MANAGED_ZONE && !bare.endsWith(`.${MANAGED_ZONE}`)) ||
                  (route.zone !== undefined && route.zone !== MANAGED_ZONE)
                ? MASTER_ONLY.unmanagedZone
                : route.tunnel !== undefined
                  ? MASTER_ONLY.foreignTunnel
                  : 'no reason the checker could not know';
            expect(
              row.statusMessage,
              `${route.key}: why the master refuses what the checker accepts`,
            ).toContain(why);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
