import { randomBytes } from 'node:crypto';
import type { AccessRuleChecker } from '../access-rules.js';
import { apiErrors } from '../errors.js';
import { isUuid, uuid } from '../ids.js';
import { paginate } from '../pagination.js';
import { type ApiRequest, type Route, route } from '../router.js';
import { requireAccount, requireZone } from '../scopes.js';
import {
  type AccessApp,
  type AccessPolicy,
  type EmulatorState,
  nowIso,
  type ServiceToken,
} from '../state.js';
import { isHostname } from './dns-validation.js';
import type { RouteDeps } from './route-deps.js';

const DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const DECISIONS = new Set(['allow', 'deny', 'non_identity', 'bypass']);
const APP_TYPES = new Set([
  'self_hosted',
  'saas',
  'ssh',
  'vnc',
  'app_launcher',
  'warp',
  'biso',
  'bookmark',
  'dash_sso',
  'infrastructure',
  'rdp',
]);
/** Fields the API computes; a client sending them back (e.g. after GET) does not change them. */
const READ_ONLY = ['id', 'aud', 'created_at', 'updated_at', 'scope_id', 'scope'];

interface Owner {
  scope: 'accounts' | 'zones';
  scopeId: string;
  accountId: string;
  /** Zone names a domain may live in. */
  zoneNames: string[];
}

function objectBody(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw apiErrors.accessInvalid('request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function validDuration(value: unknown, field: string): void {
  if (value === undefined || value === null) return;
  if (typeof value !== 'string' || !DURATION.test(value)) {
    throw apiErrors.accessInvalid(`${field} must be a duration such as 30m or 24h`);
  }
}

function validRules(
  rules: AccessRuleChecker,
  value: unknown,
  field: string,
  required: boolean,
): Record<string, unknown>[] {
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || (required && value.length === 0)) {
    throw apiErrors.accessInvalid(`${field} must be a non-empty list of rules`);
  }
  for (const [index, rule] of value.entries()) {
    const problem = rules.problem(rule);
    if (problem) throw apiErrors.accessInvalid(`${field}[${index}] ${problem}`);
  }
  return value as Record<string, unknown>[];
}

export function policyView(state: EmulatorState, policy: AccessPolicy): Record<string, unknown> {
  const appCount = [...state.accessApps.values()].filter((app) =>
    linkedPolicyIds(app).includes(policy.id),
  ).length;
  return {
    ...policy.body,
    id: policy.id,
    exclude: policy.body.exclude ?? [],
    require: policy.body.require ?? [],
    session_duration: policy.body.session_duration ?? '24h',
    reusable: true,
    app_count: appCount,
    created_at: policy.created_at,
    updated_at: policy.updated_at,
  };
}

function linkedPolicyIds(app: AccessApp): string[] {
  const links = Array.isArray(app.body.policies) ? app.body.policies : [];
  return links.map((link) => (typeof link === 'string' ? link : ((link as { id?: string }).id ?? '')));
}

/** The app's policies in the order Cloudflare evaluates them: by precedence, lowest first. */
export function appView(state: EmulatorState, app: AccessApp): Record<string, unknown> {
  const links = Array.isArray(app.body.policies) ? app.body.policies : [];
  const policies = links
    .map((link, index) => {
      const id = typeof link === 'string' ? link : (link as { id: string }).id;
      const precedence =
        typeof link === 'object' && link !== null ? (link as { precedence?: number }).precedence : undefined;
      const policy = state.accessPolicies.get(id);
      return { ...(policy ? policyView(state, policy) : { id }), precedence: precedence ?? index + 1 };
    })
    .sort((a, b) => a.precedence - b.precedence);
  return {
    ...app.body,
    id: app.id,
    aud: app.aud,
    policies,
    created_at: app.created_at,
    updated_at: app.updated_at,
  };
}

/** A path segment of an app domain: URL path characters, `*` as a wildcard; no query or fragment. */
const PATH = /^(\/[A-Za-z0-9._~!$&'()+,;=:@%*-]*)+$/;
/** A hostname label in which `*` stands for any characters of that one label (`*`, `*-dev`, `app*`). */
const WILDCARD_LABEL = /^(?=.*\*)[a-z0-9*-]{1,63}$/i;

/**
 * An application domain as Cloudflare takes it: a hostname, optionally with `*` in subdomain
 * labels (a wildcard label covers one level only, never the zone itself), then optionally a path
 * in which `*` is a wildcard too. No scheme, port, query or fragment.
 */
function domainProblem(value: string, owner: Owner): string | undefined {
  const slash = value.indexOf('/');
  const host = (slash === -1 ? value : value.slice(0, slash)).toLowerCase();
  const path = slash === -1 ? '' : value.slice(slash);
  if (/[\s?#]/.test(value) || value.includes('://'))
    return 'may not hold a scheme, spaces, a query or a fragment';
  if (path !== '' && !PATH.test(path)) return `has an invalid path ${path}`;
  const zone = owner.zoneNames.find((z) => host === z || host.endsWith(`.${z}`));
  if (zone === undefined) return `does not belong to a zone of this ${owner.scope.slice(0, -1)}`;
  const sub = host === zone ? [] : host.slice(0, -zone.length - 1).split('.');
  if (
    !isHostname(zone) ||
    sub.some((label) => label === '' || (!WILDCARD_LABEL.test(label) && !isHostname(`${label}.${zone}`)))
  )
    return 'is not a valid hostname';
  return undefined;
}

function validDomain(value: unknown, field: string, owner: Owner): void {
  if (typeof value !== 'string' || value === '') throw apiErrors.accessInvalid(`${field} is required`);
  const problem = domainProblem(value, owner);
  if (problem) throw apiErrors.accessInvalid(`${field} ${value} ${problem}`);
}

/**
 * Links to reusable policies: each names a policy of the account once, with a precedence (the
 * order Cloudflare evaluates them in) that is a positive integer unique within the app. Without
 * one, a link takes its position in the list.
 */
function validLinks(state: EmulatorState, owner: Owner, raw: unknown): Record<string, unknown>[] {
  if (!Array.isArray(raw)) throw apiErrors.accessInvalid('policies must be a list');
  const ids = new Set<string>();
  const precedences = new Set<number>();
  return raw.map((link, index) => {
    const id = typeof link === 'string' ? link : (link as { id?: unknown })?.id;
    if (typeof id !== 'string')
      throw apiErrors.accessInvalid('each policy must reference a reusable policy id');
    const policy = state.accessPolicies.get(id);
    if (!policy || policy.accountId !== owner.accountId)
      throw apiErrors.accessInvalid(`policy ${id} not found`);
    if (ids.has(id)) throw apiErrors.accessInvalid(`policy ${id} is linked twice`);
    ids.add(id);
    const given =
      typeof link === 'object' && link !== null ? (link as { precedence?: unknown }).precedence : undefined;
    if (given !== undefined && (typeof given !== 'number' || !Number.isInteger(given) || given < 1))
      throw apiErrors.accessInvalid(`policies[${index}].precedence must be a positive integer`);
    const precedence = (given as number | undefined) ?? index + 1;
    if (precedences.has(precedence))
      throw apiErrors.accessInvalid(
        `policies[${index}].precedence ${precedence} must be unique within the application`,
      );
    precedences.add(precedence);
    return typeof link === 'string' ? { id } : (link as Record<string, unknown>);
  });
}

function validateApp(state: EmulatorState, owner: Owner, raw: unknown): Record<string, unknown> {
  const body = { ...objectBody(raw) };
  for (const key of READ_ONLY) delete body[key];
  const type = body.type ?? 'self_hosted';
  if (typeof type !== 'string' || !APP_TYPES.has(type))
    throw apiErrors.accessInvalid(`type ${String(type)} is not supported`);
  body.type = type;
  if (type === 'self_hosted') {
    const destinations = Array.isArray(body.destinations)
      ? (body.destinations as Array<{ uri?: unknown }>).map((d) => d?.uri)
      : [];
    const domains = Array.isArray(body.self_hosted_domains) ? (body.self_hosted_domains as unknown[]) : [];
    if (body.domain === undefined && domains.length === 0 && destinations.length === 0) {
      throw apiErrors.accessInvalid('domain is required for self_hosted applications');
    }
    if (body.domain !== undefined) validDomain(body.domain, 'domain', owner);
    for (const domain of domains) validDomain(domain, 'self_hosted_domains', owner);
    for (const uri of destinations) validDomain(uri, 'destinations.uri', owner);
    body.domain ??= domains[0] ?? destinations[0];
  }
  if (body.name !== undefined && (typeof body.name !== 'string' || body.name === '')) {
    throw apiErrors.accessInvalid('name must be a non-empty string');
  }
  body.name ??= body.domain;
  validDuration(body.session_duration, 'session_duration');
  body.session_duration ??= '24h';
  if (body.policies !== undefined) body.policies = validLinks(state, owner, body.policies);
  return body;
}

function validatePolicy(rules: AccessRuleChecker, raw: unknown): Record<string, unknown> {
  const body = { ...objectBody(raw) };
  for (const key of [...READ_ONLY, 'reusable', 'app_count']) delete body[key];
  if (typeof body.name !== 'string' || body.name === '') throw apiErrors.accessInvalid('name is required');
  if (typeof body.decision !== 'string' || !DECISIONS.has(body.decision)) {
    throw apiErrors.accessInvalid('decision must be one of allow, deny, non_identity, bypass');
  }
  validRules(rules, body.include, 'include', true);
  validRules(rules, body.exclude, 'exclude', false);
  validRules(rules, body.require, 'require', false);
  validDuration(body.session_duration, 'session_duration');
  return body;
}

export function accessRoutes({ state }: RouteDeps, rules: AccessRuleChecker): Route[] {
  const ownerOf = (req: ApiRequest, scope: 'accounts' | 'zones'): Owner => {
    const id = req.params.owner_id!;
    if (scope === 'accounts') {
      const account = requireAccount(state, req.token, id, req.path);
      const zoneNames = [...state.zones.values()]
        .filter((z) => z.accountId === account.id)
        .map((z) => z.name);
      return { scope, scopeId: account.id, accountId: account.id, zoneNames };
    }
    const zone = requireZone(state, req.token, id, req.path);
    return { scope, scopeId: zone.id, accountId: zone.accountId, zoneNames: [zone.name] };
  };
  const appOf = (req: ApiRequest, owner: Owner): AccessApp => {
    const id = req.params.app_id!;
    const app = isUuid(id) ? state.accessApps.get(id) : undefined;
    if (!app || app.scope !== owner.scope || app.scopeId !== owner.scopeId)
      throw apiErrors.accessNotFound('application');
    return app;
  };
  const tokenOf = (req: ApiRequest, owner: Owner): ServiceToken => {
    const id = req.params.service_token_id!;
    const token = isUuid(id) ? state.serviceTokens.get(id) : undefined;
    if (!token || token.scope !== owner.scope || token.scopeId !== owner.scopeId) {
      throw apiErrors.accessNotFound('service token');
    }
    return token;
  };
  const serviceTokenView = ({ scope: _s, scopeId: _i, ...token }: ServiceToken) => token;

  const appRoutes = (scope: 'accounts' | 'zones'): Route[] => {
    const base = `/${scope}/:owner_id/access/apps`;
    return [
      route('GET', base, (req) => {
        const owner = ownerOf(req, scope);
        const q = req.query;
        const exact = q.get('exact') === 'true';
        const textMatch = (value: unknown, wanted: string | null) =>
          wanted === null ||
          (exact
            ? value === wanted
            : String(value ?? '')
                .toLowerCase()
                .includes(wanted.toLowerCase()));
        const apps = [...state.accessApps.values()]
          .filter((app) => app.scope === owner.scope && app.scopeId === owner.scopeId)
          .filter(
            (app) => textMatch(app.body.name, q.get('name')) && textMatch(app.body.domain, q.get('domain')),
          )
          .filter((app) => !q.get('aud') || app.aud === q.get('aud'))
          .filter((app) => {
            const search = q.get('search');
            return !search || [app.body.name, app.body.domain].some((v) => String(v ?? '').includes(search));
          })
          .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
        const page = paginate(apps, q, { defaultPerPage: 25, maxPerPage: 1000 });
        return { result: page.result.map((app) => appView(state, app)), resultInfo: page.resultInfo };
      }),
      route('POST', base, (req) => {
        const owner = ownerOf(req, scope);
        const now = nowIso();
        const app: AccessApp = {
          id: uuid(),
          scope,
          scopeId: owner.scopeId,
          body: validateApp(state, owner, req.body),
          aud: randomBytes(32).toString('hex'),
          created_at: now,
          updated_at: now,
        };
        state.accessApps.set(app.id, app);
        return { status: 201, result: appView(state, app) };
      }),
      route('GET', `${base}/:app_id`, (req) => ({ result: appView(state, appOf(req, ownerOf(req, scope))) })),
      route('PUT', `${base}/:app_id`, (req) => {
        const owner = ownerOf(req, scope);
        const app = appOf(req, owner);
        app.body = validateApp(state, owner, req.body);
        app.updated_at = nowIso();
        return { result: appView(state, app) };
      }),
      route('DELETE', `${base}/:app_id`, (req) => {
        const app = appOf(req, ownerOf(req, scope));
        state.accessApps.delete(app.id);
        return { status: 202, result: { id: app.id } };
      }),
    ];
  };

  const serviceTokenRoutes = (scope: 'accounts' | 'zones'): Route[] => {
    const base = `/${scope}/:owner_id/access/service_tokens`;
    return [
      route('GET', base, (req) => {
        const owner = ownerOf(req, scope);
        const name = req.query.get('name');
        const tokens = [...state.serviceTokens.values()]
          .filter((t) => t.scope === owner.scope && t.scopeId === owner.scopeId)
          .filter((t) => !name || t.name === name);
        const page = paginate(tokens, req.query, { defaultPerPage: 25, maxPerPage: 1000 });
        return { result: page.result.map(serviceTokenView), resultInfo: page.resultInfo };
      }),
      route('POST', base, (req) => {
        const owner = ownerOf(req, scope);
        const body = objectBody(req.body);
        if (typeof body.name !== 'string' || body.name === '')
          throw apiErrors.accessInvalid('name is required');
        validDuration(body.duration, 'duration');
        const now = new Date();
        const token: ServiceToken = {
          id: uuid(),
          scope,
          scopeId: owner.scopeId,
          name: body.name,
          client_id: `${randomBytes(16).toString('hex')}.access`,
          duration: typeof body.duration === 'string' ? body.duration : '8760h',
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
          expires_at: new Date(now.getTime() + 365 * 24 * 3600 * 1000).toISOString(),
        };
        state.serviceTokens.set(token.id, token);
        return {
          status: 201,
          result: { ...serviceTokenView(token), client_secret: randomBytes(32).toString('hex') },
        };
      }),
      route('GET', `${base}/:service_token_id`, (req) => ({
        result: serviceTokenView(tokenOf(req, ownerOf(req, scope))),
      })),
      route('PUT', `${base}/:service_token_id`, (req) => {
        const token = tokenOf(req, ownerOf(req, scope));
        const body = objectBody(req.body);
        if (body.name !== undefined) {
          if (typeof body.name !== 'string' || body.name === '')
            throw apiErrors.accessInvalid('name must be a string');
          token.name = body.name;
        }
        validDuration(body.duration, 'duration');
        if (typeof body.duration === 'string') token.duration = body.duration;
        token.updated_at = nowIso();
        return { result: serviceTokenView(token) };
      }),
      route('DELETE', `${base}/:service_token_id`, (req) => {
        const token = tokenOf(req, ownerOf(req, scope));
        state.serviceTokens.delete(token.id);
        return { result: serviceTokenView(token) };
      }),
    ];
  };

  const policyBase = '/accounts/:account_id/access/policies';
  const policyOf = (req: ApiRequest): AccessPolicy => {
    const account = requireAccount(state, req.token, req.params.account_id!, req.path);
    const id = req.params.policy_id!;
    const policy = isUuid(id) ? state.accessPolicies.get(id) : undefined;
    if (!policy || policy.accountId !== account.id) throw apiErrors.accessNotFound('policy');
    return policy;
  };
  const policyRoutes: Route[] = [
    route('GET', policyBase, (req) => {
      const account = requireAccount(state, req.token, req.params.account_id!, req.path);
      const policies = [...state.accessPolicies.values()]
        .filter((p) => p.accountId === account.id)
        .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
      const page = paginate(policies, req.query, { defaultPerPage: 25, maxPerPage: 1000 });
      return { result: page.result.map((p) => policyView(state, p)), resultInfo: page.resultInfo };
    }),
    route('POST', policyBase, (req) => {
      const account = requireAccount(state, req.token, req.params.account_id!, req.path);
      const now = nowIso();
      const policy: AccessPolicy = {
        id: uuid(),
        accountId: account.id,
        body: validatePolicy(rules, req.body),
        created_at: now,
        updated_at: now,
      };
      state.accessPolicies.set(policy.id, policy);
      return { status: 201, result: policyView(state, policy) };
    }),
    route('GET', `${policyBase}/:policy_id`, (req) => ({ result: policyView(state, policyOf(req)) })),
    route('PUT', `${policyBase}/:policy_id`, (req) => {
      const policy = policyOf(req);
      policy.body = validatePolicy(rules, req.body);
      policy.updated_at = nowIso();
      return { result: policyView(state, policy) };
    }),
    route('DELETE', `${policyBase}/:policy_id`, (req) => {
      const policy = policyOf(req);
      const users = [...state.accessApps.values()].filter((app) => linkedPolicyIds(app).includes(policy.id));
      if (users.length > 0) {
        throw apiErrors.accessInvalid(
          `policy is used by ${users.length} application(s); remove it from them first`,
        );
      }
      state.accessPolicies.delete(policy.id);
      return { status: 202, result: { id: policy.id } };
    }),
  ];

  // Every emulated account has its Zero Trust organization set up, its team named after the account id.
  const organizationRoutes: Route[] = [
    route('GET', '/accounts/:account_id/access/organizations', (req) => {
      const account = requireAccount(state, req.token, req.params.account_id!, req.path);
      return {
        result: {
          auth_domain: `team-${account.id.slice(0, 8)}.cloudflareaccess.com`,
          name: account.name,
          is_ui_read_only: false,
          session_duration: '24h',
          created_at: account.created_on,
          updated_at: account.created_on,
        },
      };
    }),
  ];

  return [
    ...organizationRoutes,
    ...appRoutes('accounts'),
    ...appRoutes('zones'),
    ...serviceTokenRoutes('accounts'),
    ...serviceTokenRoutes('zones'),
    ...policyRoutes,
  ];
}
