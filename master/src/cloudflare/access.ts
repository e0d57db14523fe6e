import { createHash } from 'node:crypto';
import { undefinedPolicyMessage } from '@tunnelfleet/common';
import type Cloudflare from 'cloudflare';
import { withRetries } from './call-budget.js';
import { type Credentials, normalizeHostname } from './cloudflare-credentials.js';
import { AccessOrganizationMissingError, statusOf, toLayerError } from './errors.js';
import { listAll } from './pagination.js';

export type AccessDecision = 'allow' | 'deny' | 'bypass' | 'non_identity';

/** One Access rule in the API's shape, e.g. `{ email: { email: 'a@example.com' } }`. */
export type AccessRuleBody = Readonly<Record<string, unknown>>;

/** One reusable policy, as labels describe it: Cloudflare's include / require / exclude rules. */
export interface AccessPolicySpec {
  decision: AccessDecision;
  include: readonly AccessRuleBody[];
  require?: readonly AccessRuleBody[];
  exclude?: readonly AccessRuleBody[];
  sessionDuration?: string;
}

/** A self-hosted Access application for a hostname (and path). */
export interface AccessAppSpec {
  hostname: string;
  path?: string;
  /** Display name; Tunnelfleet appends its marker. Defaults to the domain. */
  name?: string;
  sessionDuration?: string;
  /** Built into reusable policies that Tunnelfleet owns (shared by identical specs). */
  policies?: AccessPolicySpec[];
  /** Reusable policies linked by id as they are, after `policies`. */
  policyIds?: string[];
  /** Named policies of `AccessSyncInput.namedPolicies`, linked by name after `policyIds`. */
  namedPolicies?: string[];
}

/** A named policy defined on the master, its rules in the API's shape; pushed as a reusable policy. */
export interface NamedAccessPolicy {
  name: string;
  decision: AccessDecision;
  include: readonly Record<string, unknown>[];
  require: readonly Record<string, unknown>[];
  exclude: readonly Record<string, unknown>[];
}

export interface AccessSyncInput {
  /** Every application wanted (the whole set for the caller's scope). */
  desired: readonly AccessAppSpec[];
  /** Ids of the applications the caller recorded as ours: only these may be deleted. */
  ownedAppIds: readonly string[];
  adopt?: boolean;
  /**
   * Every named policy defined on the master (the whole set): each is created or updated at
   * Cloudflare, and one of ours whose name is not here is deleted once no application links it.
   */
  namedPolicies?: readonly NamedAccessPolicy[];
  /**
   * Zones whose default application (`*.<zone>`, DockFlare's `default_tld`) guards routes: looked
   * up, never created or changed.
   */
  zoneDefaults?: readonly string[];
}

export interface AccessAppResult {
  status: 'ok' | 'conflict' | 'adopted' | 'error';
  appId?: string;
  /** The app's audience tag, which `originRequest.access` checks Access tokens against. */
  aud?: string;
  message?: string;
}

export interface AccessSyncResult {
  /** By domain (`hostname` or `hostname/path`). */
  apps: Record<string, AccessAppResult>;
  ownedAppIds: string[];
  deletedAppIds: string[];
  /** Cloudflare's policy id of each named policy, by name. */
  namedPolicyIds: Record<string, string>;
  /** The account's Access team name (`<team>.cloudflareaccess.com`), from its organization. */
  teamName: string;
  /** Each zone of `zoneDefaults`: its `*.<zone>` application, or why none guards the zone. */
  zoneDefaults: Record<string, AccessAppResult>;
}

export const ACCESS_APP_MARKER = ' [tunnelfleet]';
export const ACCESS_POLICY_PREFIX = 'tunnelfleet:';
const DEFAULT_SESSION = '24h';

interface AppState {
  id: string;
  aud: string;
  domain: string;
  name: string;
  type: string;
  sessionDuration: string;
  policyIds: string[];
}

interface PolicyBody {
  name: string;
  decision: AccessDecision;
  include: AccessRuleBody[];
  require: AccessRuleBody[];
  exclude: AccessRuleBody[];
  session_duration?: string;
}

/** `hostname` or `hostname/path`; a path given as an anchored regex loses its anchors. */
export function accessDomain(hostname: string, path?: string): string {
  const host = normalizeHostname(hostname);
  if (!path) return host;
  const bare = path.replace(/^\^/, '').replace(/\$$/, '');
  return bare === '' || bare === '/' ? host : `${host}${bare.startsWith('/') ? bare : `/${bare}`}`;
}

const isOurs = (name: string) => name.endsWith(ACCESS_APP_MARKER);

/**
 * A named policy's name at Cloudflare: the master's name with our marker. Not the digest prefix:
 * digest policies are deleted as soon as no app links them, a named policy lives until deleted.
 */
export const namedPolicyCfName = (name: string) => `${name}${ACCESS_APP_MARKER}`;

interface PolicyState {
  id: string;
  name: string;
  decision: string;
  include: unknown[];
  require: unknown[];
  exclude: unknown[];
}

function toPolicyState(policy: unknown): PolicyState {
  const p = policy as Partial<PolicyState>;
  return {
    id: p.id ?? '',
    name: p.name ?? '',
    decision: p.decision ?? '',
    include: p.include ?? [],
    require: p.require ?? [],
    exclude: p.exclude ?? [],
  };
}

const sameRules = (a: readonly unknown[], b: readonly unknown[]) => JSON.stringify(a) === JSON.stringify(b);

/** Rules in a canonical order without repeats, so equal sets digest alike. */
function canonicalRules(rules: readonly AccessRuleBody[] | undefined): AccessRuleBody[] {
  const byText = new Map((rules ?? []).map((rule) => [JSON.stringify(rule), rule]));
  return [...byText.keys()].sort().map((text) => byText.get(text)!);
}

/** The policy a spec stands for; its name is a digest of its content, so equal specs share one. */
function policyBody(spec: AccessPolicySpec): PolicyBody {
  const include = canonicalRules(spec.include);
  const require = canonicalRules(spec.require);
  const exclude = canonicalRules(spec.exclude);
  const content = {
    decision: spec.decision,
    include,
    require,
    exclude,
    session_duration: spec.sessionDuration ?? null,
  };
  const digest = createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 16);
  return {
    name: `${ACCESS_POLICY_PREFIX}${spec.decision}:${digest}`,
    decision: spec.decision,
    include,
    require,
    exclude,
    ...(spec.sessionDuration ? { session_duration: spec.sessionDuration } : {}),
  };
}

/**
 * Keeps one self-hosted Access application per wanted domain, linked to reusable policies.
 * An application is ours when its name carries the marker; one without it on a wanted domain is
 * a conflict unless `adopt`. Applications are deleted only when their id is in `ownedAppIds`
 * and they still carry the marker. Unchanged applications are not rewritten. Policies named
 * with our prefix that no application uses any more are deleted.
 */
export async function syncAccessApps(creds: Credentials, input: AccessSyncInput): Promise<AccessSyncResult> {
  const handle = creds.account();
  const account_id = creds.accountId;
  const api = handle.client.zeroTrust.access;
  const retry = creds.retry;

  try {
    // Writes that may have happened before a failure are found by the next attempt's reads.
    return await withRetries(async () => {
      const teamName = await accessTeamName(handle.client, account_id);
      const apps = (await listAll(() => api.applications.list({ account_id, per_page: 1000 }), retry)).map(
        toAppState,
      );
      const policies = (await listAll(() => api.policies.list({ account_id, per_page: 1000 }), retry)).map(
        toPolicyState,
      );
      const policyIdByName = new Map(
        policies.flatMap((p) => (p.id && p.name ? [[p.name, p.id] as const] : [])),
      );
      const linked = new Map(apps.map((app) => [app.id, app.policyIds]));
      const result: AccessSyncResult = {
        apps: {},
        ownedAppIds: [],
        deletedAppIds: [],
        namedPolicyIds: {},
        teamName,
        zoneDefaults: {},
      };
      for (const zone of input.zoneDefaults ?? []) result.zoneDefaults[zone] = zoneDefaultApp(apps, zone);

      // Named policies first, so the applications below can link them by id. One Cloudflare
      // refuses (e.g. a group id it does not know) fails only the apps naming it, not the sync.
      const refusedNamed = new Map<string, string>();
      for (const named of input.namedPolicies ?? []) {
        const cfName = namedPolicyCfName(named.name);
        const body = {
          name: cfName,
          decision: named.decision,
          include: [...named.include],
          require: [...named.require],
          exclude: [...named.exclude],
        };
        const current = policies.find((p) => p.name === cfName);
        try {
          if (!current) {
            const created = await api.policies.create({ account_id, ...body } as never);
            policyIdByName.set(cfName, created.id!);
            result.namedPolicyIds[named.name] = created.id!;
            continue;
          }
          const same =
            current.decision === body.decision &&
            sameRules(current.include, body.include) &&
            sameRules(current.require, body.require) &&
            sameRules(current.exclude, body.exclude);
          if (!same) {
            await withRetries(() => api.policies.update(current.id, { account_id, ...body } as never), retry);
          }
          result.namedPolicyIds[named.name] = current.id;
        } catch (err) {
          if (statusOf(err) !== 400) throw err;
          refusedNamed.set(named.name, (err as Error).message);
          // Not ours to delete below while the master still defines it.
          if (current) policyIdByName.delete(cfName);
        }
      }

      const ensurePolicy = async (spec: AccessPolicySpec): Promise<string> => {
        const body = policyBody(spec);
        const known = policyIdByName.get(body.name);
        if (known) return known;
        const created = await api.policies.create({ account_id, ...body } as never);
        policyIdByName.set(body.name, created.id!);
        return created.id!;
      };

      const wanted = new Map<string, AccessAppSpec>();
      for (const spec of input.desired) wanted.set(accessDomain(spec.hostname, spec.path), spec);

      for (const [domain, spec] of wanted) {
        const onDomain = apps.filter((app) => app.domain === domain);
        const ours = onDomain.find((app) => isOurs(app.name));
        const foreign = onDomain.filter((app) => !isOurs(app.name));
        const problem = (spec.policies ?? []).find((p) => policyBody(p).include.length === 0);
        const unusable = (spec.namedPolicies ?? []).find((name) => !result.namedPolicyIds[name]);
        if (unusable) {
          // Left as it is (still ours), like a bad spec: never opened by dropping a policy.
          const refused = refusedNamed.get(unusable);
          result.apps[domain] = {
            status: 'error',
            message: refused
              ? `Access policy "${unusable}" was refused by Cloudflare: ${refused}`
              : undefinedPolicyMessage(unusable),
            ...(ours ? { appId: ours.id } : {}),
          };
          continue;
        }
        const linkCount =
          (spec.policies ?? []).length + (spec.policyIds ?? []).length + (spec.namedPolicies ?? []).length;
        if (problem || linkCount === 0) {
          // A bad spec leaves the app as it is (still ours), rather than opening or deleting it.
          result.apps[domain] = {
            status: 'error',
            message: `Access for ${domain} names no one to let in`,
            ...(ours ? { appId: ours.id } : {}),
          };
          continue;
        }
        let built: string[];
        try {
          built = await sequential(spec.policies ?? [], ensurePolicy);
        } catch (err) {
          // A rule Cloudflare refuses (e.g. a group id it does not know) fails this app only.
          if (statusOf(err) !== 400) throw err;
          result.apps[domain] = {
            status: 'error',
            message: `Cloudflare refused the Access policy of ${domain}: ${(err as Error).message}`,
            ...(ours ? { appId: ours.id } : {}),
          };
          continue;
        }
        const policyIds = [
          ...built,
          ...(spec.policyIds ?? []),
          ...(spec.namedPolicies ?? []).map((name) => result.namedPolicyIds[name]!),
        ];
        const body = {
          type: 'self_hosted' as const,
          domain,
          name: `${spec.name ?? domain}${ACCESS_APP_MARKER}`,
          session_duration: spec.sessionDuration ?? DEFAULT_SESSION,
          policies: policyIds.map((id, i) => ({ id, precedence: i + 1 })),
        };
        let target: AppState | undefined = ours;
        let status: AccessAppResult['status'] = 'ok';
        if (!ours && foreign.length > 0) {
          if (!input.adopt || foreign.length > 1) {
            result.apps[domain] = {
              status: 'conflict',
              message: `${domain} already has an Access application Tunnelfleet does not own (${foreign
                .map((a) => a.name)
                .join(', ')})`,
            };
            continue;
          }
          target = foreign[0];
          status = 'adopted';
        }
        if (!target) {
          const created = await api.applications.create({ account_id, ...body });
          result.apps[domain] = { status, appId: created.id!, aud: created.aud ?? '' };
          linked.set(created.id!, policyIds);
          continue;
        }
        const same =
          target.type === 'self_hosted' &&
          target.name === body.name &&
          target.sessionDuration === body.session_duration &&
          target.policyIds.join() === policyIds.join();
        if (!same) {
          const id = target.id;
          await withRetries(() => api.applications.update(id, { account_id, ...body }), retry);
          linked.set(id, policyIds);
        }
        result.apps[domain] = { status, appId: target.id, aud: target.aud };
      }

      const keep = new Set(Object.values(result.apps).flatMap((r) => (r.appId ? [r.appId] : [])));
      for (const id of input.ownedAppIds) {
        const app = apps.find((a) => a.id === id);
        if (keep.has(id) || !app || !isOurs(app.name)) continue;
        try {
          await withRetries(() => api.applications.delete(id, { account_id }), retry);
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
        linked.delete(id);
        result.deletedAppIds.push(id);
      }
      // An owned app still wanted under another domain, or gone, is simply not kept.
      result.ownedAppIds = [...keep].sort();

      const inUse = new Set([...linked.values()].flat());
      const namedIds = new Set(Object.values(result.namedPolicyIds));
      const namedGiven = input.namedPolicies !== undefined;
      for (const [name, id] of policyIdByName) {
        const stale =
          name.startsWith(ACCESS_POLICY_PREFIX) || (namedGiven && isOurs(name) && !namedIds.has(id));
        if (!stale || inUse.has(id)) continue;
        try {
          await withRetries(() => api.policies.delete(id, { account_id }), retry);
        } catch (err) {
          // Gone already, or linked meanwhile by another sync: either way it is not ours to force.
          const status = statusOf(err);
          if (status !== 404 && status !== 400) throw err;
        }
      }
      return result;
    }, retry);
  } catch (err) {
    throw toLayerError(err, handle.name, 'sync Access applications');
  }
}

/**
 * The application on `*.<zone>` that guards the zone's hostnames (DockFlare's zone default
 * policy). Exactly one self-hosted application with a policy: none, several or a policy-less one
 * guard nothing a route could rely on.
 */
function zoneDefaultApp(apps: readonly AppState[], zone: string): AccessAppResult {
  const domain = `*.${normalizeHostname(zone)}`;
  const onDomain = apps.filter((app) => app.domain === domain && app.type === 'self_hosted');
  if (onDomain.length === 1 && onDomain[0]!.policyIds.length > 0) {
    return { status: 'ok', appId: onDomain[0]!.id, aud: onDomain[0]!.aud };
  }
  const why =
    onDomain.length === 0
      ? `there is no Access application on ${domain} (DockFlare's zone default policy): create one`
      : onDomain.length > 1
        ? `${onDomain.length} Access applications are on ${domain}: keep one`
        : `the Access application on ${domain} has no policy`;
  return { status: 'error', message: why };
}

/**
 * The team name of the account's Access organization: what cloudflared checks an Access token's
 * issuer against (`originRequest.access.teamName`). An account without one has no Access at all.
 */
async function accessTeamName(client: Cloudflare, account_id: string): Promise<string> {
  const organization = await client.zeroTrust.organizations.list({ account_id });
  const authDomain = organization.auth_domain ?? '';
  const teamName = authDomain.toLowerCase().replace(/\.cloudflareaccess\.com$/, '');
  if (teamName === '' || teamName === authDomain.toLowerCase()) {
    throw new AccessOrganizationMissingError(authDomain);
  }
  return teamName;
}

function toAppState(app: unknown): AppState {
  const a = app as {
    id?: string;
    aud?: string;
    domain?: string;
    name?: string;
    type?: string;
    session_duration?: string;
    policies?: { id?: string }[];
  };
  return {
    id: a.id ?? '',
    aud: a.aud ?? '',
    domain: (a.domain ?? '').toLowerCase(),
    name: a.name ?? '',
    type: a.type ?? '',
    sessionDuration: a.session_duration ?? DEFAULT_SESSION,
    policyIds: (a.policies ?? []).flatMap((p) => (p.id ? [p.id] : [])),
  };
}

async function sequential<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (const item of items) out.push(await fn(item));
  return out;
}
