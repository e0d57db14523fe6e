import {
  checkDecision,
  resolveSelector,
  ruleValueProblem,
  SELECTORS,
  type Selector,
  selectorRules,
} from './access-rules.js';
import type { BoolDialect } from './booleans.js';
import { didYouMean } from './did-you-mean.js';
import { parseDuration } from './duration.js';
import { foldKey, splitList } from './lists.js';
import { type Check, hasControlCharacter, labelError, labelWarning, ok, refuse } from './problems.js';
import type { AccessDecision, AccessPolicySpec, AccessRule, AccessSpec, LabelProblem } from './types.js';

/** One `access.<key>` label; `key` is what follows `access.`. */
export interface AccessEntry {
  key: string;
  label: string;
  value: string;
}

const SETTINGS = [
  'policy',
  'named_policy',
  'app_name',
  'session_duration',
  'app_launcher_visible',
  'auto_redirect_to_identity',
  'allowed_idps',
] as const;

/** Every key accepted after `tunnelfleet.access.`. */
export const ACCESS_KEYS: readonly string[] = [
  'public',
  ...SETTINGS,
  ...SELECTORS,
  ...SELECTORS.map((s) => `require.${s}`),
  ...SELECTORS.map((s) => `exclude.${s}`),
];

const SETTING_BY_FOLDED = new Map<string, (typeof SETTINGS)[number]>(SETTINGS.map((s) => [foldKey(s), s]));

const MAX_SESSION_HOURS = 730n;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function checkSessionDuration(raw: string): Check<string> {
  const parsed = parseDuration(raw);
  if (!parsed.ok) return parsed;
  if (parsed.value <= 0n || parsed.value > MAX_SESSION_HOURS * 3_600_000_000_000n) {
    return refuse('is out of range for a session duration (more than 0, at most 730h)');
  }
  const text = raw.trim();
  return ok(/^\d+$/.test(text) ? `${text}s` : text);
}

export function checkAppName(raw: string): Check<string> {
  const name = raw.trim();
  if (name.length === 0 || name.length > 350)
    return refuse('is not an Access application name (1-350 characters)');
  return hasControlCharacter(name) ? refuse('has a control character') : ok(name);
}

function checkPolicyNames(raw: string): Check<string[]> {
  const names = splitList(raw);
  if (names.length === 0) return refuse('is empty (expected the name of a policy defined on the master)');
  const bad = names.find((name) => !NAME.test(name));
  return bad === undefined
    ? ok(names)
    : refuse(
        `has ${JSON.stringify(bad.slice(0, 80))}, which is not a policy name (letters, digits, "_.:-", at most 100)`,
      );
}

export function checkIdps(raw: string): Check<string[]> {
  const ids = splitList(raw);
  if (ids.length === 0) return refuse('is empty (expected identity provider ids)');
  const bad = ids.find((id) => !UUID.test(id));
  return bad === undefined
    ? ok(ids.map((id) => id.toLowerCase()))
    : refuse(`has ${JSON.stringify(bad.slice(0, 80))}, which is not an identity provider id (a UUID)`);
}

export interface PolicyParts {
  name?: string;
  decision?: AccessDecision;
  include: AccessRule[];
  require: AccessRule[];
  exclude: AccessRule[];
}

/**
 * Completes a label-written policy: the decision defaults to `allow` (`non_identity` when only service
 * tokens are included) and `bypass` with no rule bypasses everyone. Undefined when nothing was asked.
 */
export function finishPolicy(parts: PolicyParts): Check<AccessPolicySpec | undefined> {
  const { include, require, exclude } = parts;
  if (parts.decision === undefined && include.length + require.length + exclude.length === 0)
    return ok(undefined);
  const onlyTokens =
    include.length > 0 && include.every((r) => 'service_token' in r || 'any_valid_service_token' in r);
  const decision = parts.decision ?? (onlyTokens ? 'non_identity' : 'allow');
  const included = decision === 'bypass' && include.length === 0 ? [{ everyone: {} } as AccessRule] : include;
  const mixed = bypassProblem(decision, [...included, ...require, ...exclude]);
  if (mixed) return refuse(mixed);
  if (included.length === 0) {
    return refuse(
      `needs at least one include rule for the decision "${decision}" (e.g. emails, email_domains, everyone)`,
    );
  }
  const policy: AccessPolicySpec = { decision, include: included, require, exclude };
  if (parts.name !== undefined) policy.name = parts.name;
  return ok(policy);
}

/**
 * Builds a route's AccessSpec from its `tunnelfleet.[<route>.]access.*` labels, or reads
 * `access.public`, which says the route is public on purpose and so takes no other Access key.
 */
export function buildAccess(
  entries: readonly AccessEntry[],
  dialect: BoolDialect,
  labelPrefix: string,
): { access?: AccessSpec; public?: true; problems: LabelProblem[] } {
  const problems: LabelProblem[] = [];
  const publicEntry = entries.find((e) => foldKey(e.key) === foldKey('public'));
  if (publicEntry) {
    const value = dialect.read(publicEntry.value);
    const fail = (reason: string) =>
      problems.push(labelError({ label: publicEntry.label, value: publicEntry.value, reason }));
    if (value === undefined) fail(`is not a boolean (use ${dialect.spellings})`);
    else if (entries.length > 1) {
      fail(`cannot be combined with other ${labelPrefix}access.* labels: a route is public or protected`);
    } else if (value) return { public: true, problems };
    return { problems };
  }
  if (entries.length === 0) return { problems };
  const spec: AccessSpec = { namedPolicies: [] };
  const parts: PolicyParts = { include: [], require: [], exclude: [] };
  const fail = (entry: AccessEntry, reason: string) =>
    problems.push(labelError({ label: entry.label, value: entry.value, reason }));
  for (const entry of entries) {
    const [head = '', ...rest] = entry.key.split('.');
    const list = head === 'require' || head === 'exclude' ? head : 'include';
    const selectorName = list === 'include' ? entry.key : rest.join('.');
    const selector: Selector | undefined = resolveSelector(selectorName);
    if (selector !== undefined) {
      const rules = selectorRules(selector, entry.value, dialect);
      if (rules.ok) parts[list].push(...rules.value);
      else fail(entry, rules.reason);
      continue;
    }
    const setting = applySetting(spec, parts, entry, dialect);
    if (setting === 'unknown') {
      problems.push(
        labelWarning({
          label: entry.label,
          reason: `is not a known access key; ignored${didYouMean(entry.key, ACCESS_KEYS, `${labelPrefix}access.`)}`,
        }),
      );
    } else if (setting !== undefined) {
      fail(entry, setting);
    }
  }
  const policy = finishPolicy(parts);
  const first = entries[0]!;
  if (!policy.ok) {
    problems.push(labelError({ label: `${labelPrefix}access.policy`, reason: policy.reason }));
  } else if (policy.value !== undefined) {
    spec.policy = policy.value;
  } else if (spec.namedPolicies.length === 0 && !problems.some((p) => p.severity === 'error')) {
    problems.push(
      labelError({
        label: first.label,
        reason: `sets Access options but no policy: add ${labelPrefix}access.emails, .email_domains, .everyone, .service_tokens or .named_policy`,
      }),
    );
  }
  return { access: spec, problems };
}

/** Applies one setting; returns an error reason, 'unknown', or undefined when applied. */
function applySetting(
  spec: AccessSpec,
  parts: PolicyParts,
  entry: AccessEntry,
  dialect: BoolDialect,
): string | 'unknown' | undefined {
  const apply = <T>(checked: Check<T>, set: (value: T) => void) => {
    if (!checked.ok) return checked.reason;
    set(checked.value);
    return undefined;
  };
  const bool = (value: string): Check<boolean> => {
    const read = dialect.read(value);
    return read === undefined ? refuse(`is not a boolean (use ${dialect.spellings})`) : ok(read);
  };
  switch (SETTING_BY_FOLDED.get(foldKey(entry.key))) {
    case 'policy':
      return apply(checkDecision(entry.value), (v) => {
        parts.decision = v;
      });
    case 'named_policy':
      return apply(checkPolicyNames(entry.value), (v) => {
        spec.namedPolicies.push(...v);
      });
    case 'app_name':
      return apply(checkAppName(entry.value), (v) => {
        spec.appName = v;
      });
    case 'session_duration':
      return apply(checkSessionDuration(entry.value), (v) => {
        spec.sessionDuration = v;
      });
    case 'app_launcher_visible':
      return apply(bool(entry.value), (v) => {
        spec.appLauncherVisible = v;
      });
    case 'auto_redirect_to_identity':
      return apply(bool(entry.value), (v) => {
        spec.autoRedirectToIdentity = v;
      });
    case 'allowed_idps':
      return apply(checkIdps(entry.value), (v) => {
        spec.allowedIdps = v;
      });
    default:
      return 'unknown';
  }
}

const DECISIONS: readonly string[] = ['allow', 'deny', 'bypass', 'non_identity'];

/** Selectors that need a signed-in identity, which a `bypass` decision never asks for. */
const IDENTITY_SELECTORS = new Set(['email', 'email_domain', 'email_list', 'group', 'login_method']);

/**
 * Why a policy mixes `bypass` with identity selectors, or undefined. Bypass skips sign-in, so
 * Cloudflare cannot evaluate an identity rule there: such a policy has let everyone in for a peer
 * tool. Refused, so that what reads as "only these people" never means "everyone".
 */
export function bypassProblem(decision: AccessDecision, rules: readonly object[]): string | undefined {
  if (decision !== 'bypass') return undefined;
  const identity = rules.flatMap((rule) => Object.keys(rule)).filter((key) => IDENTITY_SELECTORS.has(key));
  if (identity.length === 0) return undefined;
  return (
    `mixes the decision "bypass" (no sign-in) with identity rules (${[...new Set(identity)].join(', ')}), ` +
    'which a bypass cannot check; use "allow" for people, and bypass only with everyone, IP ranges or countries'
  );
}
const isRuleList = (value: unknown): value is AccessRule[] =>
  Array.isArray(value) &&
  value.every(
    (rule) =>
      typeof rule === 'object' &&
      rule !== null &&
      !Array.isArray(rule) &&
      Object.keys(rule).length === 1 &&
      typeof Object.values(rule)[0] === 'object',
  );

/**
 * One policy of DockFlare's `access.custom_rules`, passed through to Cloudflare as written, as a
 * policy Cloudflare can take: a decision it knows and include / require / exclude lists of rules
 * with one selector each (the selectors are Cloudflare's, checked by Cloudflare). Shared by the
 * label parser and the master's Access sync, so the checker and the master agree.
 */
export function checkInlinePolicy(raw: Record<string, unknown>, index: number): Check<AccessPolicySpec> {
  const where = `has policy #${index + 1}, which`;
  if (typeof raw.decision !== 'string' || !DECISIONS.includes(raw.decision)) {
    return refuse(`${where} has no decision Cloudflare knows (allow, deny, bypass, non_identity)`);
  }
  const lists = { include: raw.include, require: raw.require ?? [], exclude: raw.exclude ?? [] };
  for (const [key, list] of Object.entries(lists)) {
    if (!isRuleList(list)) return refuse(`${where} has a ${key} that is not a list of one-selector rules`);
  }
  if ((lists.include as AccessRule[]).length === 0) return refuse(`${where} includes no one`);
  for (const [key, list] of Object.entries(lists)) {
    for (const rule of list as AccessRule[]) {
      const problem = ruleValueProblem(rule);
      if (problem) return refuse(`${where} has a ${key} rule Cloudflare refuses: ${problem}`);
    }
  }
  const mixed = bypassProblem(raw.decision as AccessDecision, [
    ...(lists.include as AccessRule[]),
    ...(lists.require as AccessRule[]),
    ...(lists.exclude as AccessRule[]),
  ]);
  if (mixed) return refuse(`${where} ${mixed}`);
  return ok({
    decision: raw.decision as AccessDecision,
    include: lists.include as AccessRule[],
    require: lists.require as AccessRule[],
    exclude: lists.exclude as AccessRule[],
  });
}
