import type { BoolDialect } from './booleans.js';
import { checkHostname } from './hostname.js';
import { checkIpRange } from './ip-range.js';
import { foldKey, splitList } from './lists.js';
import { type Check, ok, refuse } from './problems.js';
import type { AccessDecision, AccessRule } from './types.js';

export const SELECTORS = [
  'emails',
  'email_domains',
  'everyone',
  'service_tokens',
  'groups',
  'ip_ranges',
  'countries',
  'login_methods',
  'certificate',
] as const;
export type Selector = (typeof SELECTORS)[number];

/** Labelgate's selector names, and singular spellings, mapped to ours. */
const ALIASES: Record<string, Selector> = {
  email: 'emails',
  emailsendingin: 'email_domains',
  emaildomain: 'email_domains',
  servicetoken: 'service_tokens',
  accessgroups: 'groups',
  group: 'groups',
  iprange: 'ip_ranges',
  country: 'countries',
  loginmethod: 'login_methods',
};
const BY_FOLDED = new Map<string, Selector>([
  ...SELECTORS.map((s): [string, Selector] => [foldKey(s), s]),
  ...Object.entries(ALIASES),
]);

export function resolveSelector(written: string): Selector | undefined {
  return BY_FOLDED.get(foldKey(written));
}

const EMAIL_LOCAL = /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkEmail(raw: string): Check<string> {
  const email = raw.trim().toLowerCase();
  const at = email.lastIndexOf('@');
  if (at <= 0)
    return refuse(`has ${JSON.stringify(raw.slice(0, 80))}, which is not an e-mail address (no "@")`);
  if (!EMAIL_LOCAL.test(email.slice(0, at))) {
    return refuse(
      `has ${JSON.stringify(raw.slice(0, 80))}, which is not an e-mail address (bad characters before "@")`,
    );
  }
  const domain = checkHostname(email.slice(at + 1), { wildcard: false });
  if (!domain.ok) return refuse(`has ${JSON.stringify(raw.slice(0, 80))}, whose domain ${domain.reason}`);
  return ok(email);
}

function checkEmailDomain(raw: string): Check<string> {
  const domain = checkHostname(raw.trim().replace(/^@/, ''), { wildcard: false });
  return domain.ok
    ? domain
    : refuse(`has ${JSON.stringify(raw.slice(0, 80))}, which as an e-mail domain ${domain.reason}`);
}

function eachItem<T>(value: string, what: string, check: (item: string) => Check<T>): Check<T[]> {
  const items = splitList(value);
  if (items.length === 0) return refuse(`is empty (expected a comma-separated list of ${what})`);
  const out: T[] = [];
  for (const item of items) {
    const checked = check(item);
    if (!checked.ok) return checked;
    out.push(checked.value);
  }
  return ok(out);
}

function checkUuid(what: string) {
  return (item: string): Check<string> =>
    UUID.test(item.toLowerCase())
      ? ok(item.toLowerCase())
      : refuse(`has ${JSON.stringify(item.slice(0, 80))}, which is not ${what} (a UUID)`);
}

/**
 * The API rules one selector label asks for. `switches` says how `everyone`/`certificate` read their
 * value: as a boolean (ours) or ignored (Labelgate).
 */
export function selectorRules(
  selector: Selector,
  value: string,
  switches: BoolDialect | 'ignored',
): Check<AccessRule[]> {
  switch (selector) {
    case 'emails':
      return eachItem(value, 'e-mail addresses', (item) => {
        const email = checkEmail(item);
        return email.ok ? ok({ email: { email: email.value } }) : email;
      });
    case 'email_domains':
      return eachItem(value, 'e-mail domains', (item) => {
        const domain = checkEmailDomain(item);
        return domain.ok ? ok({ email_domain: { domain: domain.value } }) : domain;
      });
    case 'everyone':
    case 'certificate': {
      const on = switches === 'ignored' ? true : switches.read(value);
      if (on === undefined) return refuse(`is not a boolean (use ${(switches as BoolDialect).spellings})`);
      if (!on) return ok([]);
      return ok([selector === 'everyone' ? { everyone: {} } : { certificate: {} }]);
    }
    case 'service_tokens':
      return eachItem(value, 'service token ids', (item): Check<AccessRule> => {
        if (item.toLowerCase() === 'any') return ok({ any_valid_service_token: {} });
        const id = checkUuid('a service token id or "any"')(item);
        return id.ok ? ok({ service_token: { token_id: id.value } }) : id;
      });
    case 'groups':
      return eachItem(value, 'Access group ids', (item) => {
        const id = checkUuid('an Access group id')(item);
        return id.ok ? ok({ group: { id: id.value } }) : id;
      });
    case 'login_methods':
      return eachItem(value, 'login method ids', (item) => {
        const id = checkUuid('a login method id')(item);
        return id.ok ? ok({ login_method: { id: id.value } }) : id;
      });
    case 'ip_ranges':
      return eachItem(value, 'IP ranges', (item) => {
        const range = checkIpRange(item);
        return range.ok
          ? ok({ ip: { ip: range.value } })
          : refuse(`has ${JSON.stringify(item.slice(0, 80))}, which ${range.reason}`);
      });
    case 'countries':
      return eachItem(value, 'country codes', (item) =>
        /^[a-z]{2}$/i.test(item)
          ? ok({ geo: { country_code: item.toUpperCase() } })
          : refuse(`has ${JSON.stringify(item.slice(0, 80))}, which is not a two-letter country code`),
      );
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A rule value `{ <field>: <non-empty string> }` checked by `check` when given. */
function stringField(field: string, check?: (raw: string) => Check<unknown>) {
  return (value: Record<string, unknown>): string | undefined => {
    const text = value[field];
    if (typeof text !== 'string' || text.trim() === '') return `needs ${field} as a non-empty string`;
    const checked = check?.(text);
    return checked && !checked.ok ? checked.reason : undefined;
  };
}

/**
 * The value checks of the rule types Tunnelfleet builds itself, applied to rules written as JSON
 * (DockFlare's `access.custom_rules`) so that the label checker refuses what Cloudflare would.
 * Other rule types are passed through: Cloudflare judges them, and a refusal there keeps the
 * route unpublished with the reason.
 */
const RULE_VALUES: Record<string, (value: Record<string, unknown>) => string | undefined> = {
  email: stringField('email', checkEmail),
  email_domain: stringField('domain', checkEmailDomain),
  ip: stringField('ip', (raw) =>
    /\//.test(raw) ? checkIpRange(raw) : refuse('is not a CIDR block (e.g. 192.0.2.0/24)'),
  ),
  geo: stringField('country_code', (raw) =>
    /^[A-Z]{2}$/.test(raw) ? ok(raw) : refuse('is not a two-letter upper-case country code'),
  ),
  group: stringField('id'),
  service_token: stringField('token_id'),
  login_method: stringField('id'),
  everyone: (value) => (Object.keys(value).length === 0 ? undefined : 'takes an empty object'),
  certificate: (value) => (Object.keys(value).length === 0 ? undefined : 'takes an empty object'),
  any_valid_service_token: (value) => (Object.keys(value).length === 0 ? undefined : 'takes an empty object'),
};

/** Why Cloudflare would refuse one rule written as JSON, or undefined. */
export function ruleValueProblem(rule: AccessRule): string | undefined {
  const [type, value] = Object.entries(rule)[0] ?? [];
  const check = type === undefined ? undefined : RULE_VALUES[type];
  if (!check) return undefined;
  if (!isObject(value)) return `${type} takes an object`;
  const problem = check(value);
  return problem && `${type} ${problem}`;
}

const DECISIONS: Record<string, AccessDecision> = {
  allow: 'allow',
  deny: 'deny',
  block: 'deny',
  bypass: 'bypass',
  service_auth: 'non_identity',
  non_identity: 'non_identity',
};

export function checkDecision(raw: string): Check<AccessDecision> {
  const decision = DECISIONS[raw.trim().toLowerCase()];
  return decision
    ? ok(decision)
    : refuse('is not an Access decision (use allow, deny, bypass or service_auth)');
}
