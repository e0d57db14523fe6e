import { checkAppName, checkIdps, checkInlinePolicy, checkSessionDuration } from './access.js';
import { dockflareBool, looksMeantTrue } from './booleans.js';
import { didYouMean } from './did-you-mean.js';
import { DOCKFLARE_AUTHENTICATED_GROUP, DOCKFLARE_BYPASS_GROUP } from './dockflare-groups.js';
import { splitList } from './lists.js';
import type { OriginEntry, OriginKey } from './origin-request.js';
import { type Check, checkLabel, labelError, labelWarning } from './problems.js';
import type { LabelMap, ReaderResult } from './reader.js';
import type { LabelValue, RouteDraft } from './route-draft.js';
import type { AccessSpec, LabelProblem } from './types.js';

/** DockFlare's own prefixes in its lookup order, after a custom `LABEL_PREFIX`: the first that has a key wins, key by key. */
const PREFIXES = ['dockflare.', 'cloudflare.tunnel.'] as const;

const ORIGIN_FLAGS: Record<string, OriginKey> = {
  no_tls_verify: 'noTLSVerify',
  http2_origin: 'http2Origin',
  disable_chunked_encoding: 'disableChunkedEncoding',
  match_sni_to_host: 'matchSNItoHost',
};
const ORIGIN_STRINGS: Record<string, OriginKey> = {
  originsrvname: 'originServerName',
  httpHostHeader: 'httpHostHeader',
};
/** What an access group overrides: DockFlare takes these from the group when there is one. */
const ACCESS_SETTINGS = [
  'access.name',
  'access.session_duration',
  'access.app_launcher_visible',
  'access.allowed_idps',
  'access.auto_redirect_to_identity',
  'access.custom_rules',
];
const ACCESS_KEYS = ['access.policy', 'access.group', 'access.groups', ...ACCESS_SETTINGS];
const ROUTE_KEYS = [
  'hostname',
  'service',
  'path',
  'zonename',
  ...Object.keys(ORIGIN_FLAGS),
  ...Object.keys(ORIGIN_STRINGS),
  ...ACCESS_KEYS,
];
const KNOWN_KEYS = ['enable', ...ROUTE_KEYS];

type Lookup = (key: string) => LabelValue | undefined;

function resolve(
  labels: LabelMap,
  prefixes: readonly string[],
  suffix: string,
  problems: LabelProblem[],
): LabelValue | undefined {
  const found = prefixes.flatMap((prefix) => {
    const value = labels.get(`${prefix}${suffix}`);
    return value === undefined ? [] : [{ label: `${prefix}${suffix}`, value }];
  });
  const [winner, shadowed] = found;
  if (winner && shadowed && shadowed.value !== winner.value) {
    problems.push(
      labelWarning({ ...shadowed, reason: `is ignored: ${winner.label} is set and wins, as in DockFlare` }),
    );
  }
  return winner;
}

function suffixes(labels: LabelMap, prefixes: readonly string[]): string[] {
  const out = new Set<string>();
  for (const key of labels.keys()) {
    for (const prefix of prefixes) if (key.startsWith(prefix)) out.add(key.slice(prefix.length));
  }
  return [...out];
}

function checkSuffixes(
  all: string[],
  lastIndex: number,
  problems: LabelProblem[],
  labels: LabelMap,
  prefixes: readonly string[],
): void {
  const skipped = new Set<string>();
  for (const suffix of all) {
    const indexed = /^(\d+)\.(.*)$/.exec(suffix);
    const key = indexed ? (indexed[2] ?? '') : suffix;
    const label = prefixes.map((p) => `${p}${suffix}`).find((l) => labels.has(l)) ?? suffix;
    if (key === 'access.email') {
      problems.push(
        labelWarning({
          label,
          reason: 'is ignored: DockFlare never reads it either; use tunnelfleet.access.emails',
        }),
      );
    } else if (!(indexed ? ROUTE_KEYS : KNOWN_KEYS).includes(key)) {
      problems.push(
        labelWarning({
          label,
          reason: `is not a DockFlare key Tunnelfleet reads; ignored${didYouMean(key, KNOWN_KEYS)}`,
        }),
      );
    } else if (indexed && Number(indexed[1]) > lastIndex && !skipped.has(indexed[1] ?? '')) {
      skipped.add(indexed[1] ?? '');
      problems.push(
        labelWarning({
          label,
          reason: `is ignored with its whole index: DockFlare stops at the first index without a hostname (index ${lastIndex + 1})`,
        }),
      );
    }
  }
}

function normalizePath(field: LabelValue | undefined): LabelValue | undefined {
  if (field === undefined) return undefined;
  let path = field.value.trim();
  if (path === '') return undefined;
  if (!path.startsWith('/')) path = `/${path}`;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return { label: field.label, value: path };
}

function originEntries(
  get: Lookup,
  service: LabelValue | undefined,
  problems: LabelProblem[],
): OriginEntry[] {
  const entries: OriginEntry[] = [];
  for (const [suffix, key] of Object.entries(ORIGIN_FLAGS)) {
    const field = get(suffix);
    if (field === undefined) continue;
    if (dockflareBool.read(field.value)) entries.push({ key, ...field });
    else if (looksMeantTrue(field.value)) {
      problems.push(
        labelWarning({
          ...field,
          reason: `is read as false, as DockFlare does (true is ${dockflareBool.spellings})`,
        }),
      );
    }
  }
  for (const [suffix, key] of Object.entries(ORIGIN_STRINGS)) {
    const field = get(suffix);
    if (field !== undefined && field.value.trim() !== '')
      entries.push({ key, label: field.label, value: field.value.trim() });
  }
  const scheme = service?.value.trim().split(':')[0];
  if (entries.length > 0 && service && scheme !== 'http' && scheme !== 'https') {
    for (const entry of entries) {
      problems.push(
        labelWarning({
          label: entry.label,
          value: entry.value,
          reason: 'is ignored: DockFlare applies origin settings to http(s) services only',
        }),
      );
    }
    return [];
  }
  return entries;
}

function groupsOf(get: (key: string) => LabelValue | undefined): LabelValue | undefined {
  const groups = get('access.groups');
  return groups !== undefined && splitList(groups.value).length > 0 ? groups : get('access.group');
}

/** The app settings a mode without an app of the labels' own does not read, each with a warning. */
function ignoreAppSettings(get: Lookup, why: string, problems: LabelProblem[]): void {
  for (const key of ACCESS_SETTINGS) {
    const field = get(key);
    if (field) problems.push(labelWarning({ ...field, reason: `is ignored: ${why}` }));
  }
}

function buildAccess(
  get: Lookup,
  groupField: LabelValue | undefined,
  problems: LabelProblem[],
): AccessSpec | undefined {
  const policyField = get('access.policy');
  const policy = policyField?.value.trim().toLowerCase() ?? '';
  const groups = groupField
    ? splitList(groupField.value).map((g) => (g === 'bypass' ? DOCKFLARE_BYPASS_GROUP : g))
    : [];
  if (groups.length === 0 && policy === 'bypass') groups.push(DOCKFLARE_BYPASS_GROUP);
  if (groups.length === 0 && policy === 'authenticate') groups.push(DOCKFLARE_AUTHENTICATED_GROUP);
  if (groups.length > 0) {
    ignoreAppSettings(get, 'with an access group DockFlare takes it from the group', problems);
    const spec: AccessSpec = { namedPolicies: groups.filter((g) => g !== DOCKFLARE_BYPASS_GROUP) };
    if (groups.includes(DOCKFLARE_BYPASS_GROUP))
      spec.policy = { decision: 'bypass', include: [{ everyone: {} }], require: [], exclude: [] };
    return spec;
  }
  if (policy === 'default_tld') {
    // DockFlare makes no app and relies on the zone's `*.<zone>` app; it stays public when there is
    // none. Here the route waits for that app instead (fail closed), and checks its audience.
    ignoreAppSettings(
      get,
      "with access.policy=default_tld the zone's *.<zone> application applies",
      problems,
    );
    return { namedPolicies: [], zoneDefault: true };
  }
  if (policy === '') {
    const rules = get('access.custom_rules');
    if (rules)
      problems.push(
        labelWarning({ ...rules, reason: 'is ignored: DockFlare reads it only with access.policy' }),
      );
    return undefined;
  }
  return labelDrivenApp(get, problems);
}

/** DockFlare's "other policy" mode: an app configured by labels with custom_rules as its policies. */
function labelDrivenApp(get: Lookup, problems: LabelProblem[]): AccessSpec {
  const spec: AccessSpec = { namedPolicies: [], inlinePolicies: [] };
  const error = (field: LabelValue, reason: string) => problems.push(labelError({ ...field, reason }));
  const checked = <T>(key: string, check: (raw: string) => Check<T>): T | undefined => {
    const field = get(key);
    return field && checkLabel(field, check, problems);
  };
  const appName = checked('access.name', checkAppName);
  if (appName !== undefined) spec.appName = appName;
  const sessionDuration = checked('access.session_duration', checkSessionDuration);
  if (sessionDuration !== undefined) spec.sessionDuration = sessionDuration;
  const allowedIdps = checked('access.allowed_idps', checkIdps);
  if (allowedIdps !== undefined) spec.allowedIdps = allowedIdps;
  const launcher = get('access.app_launcher_visible');
  if (launcher) spec.appLauncherVisible = dockflareBool.read(launcher.value) ?? false;
  const redirect = get('access.auto_redirect_to_identity');
  if (redirect) spec.autoRedirectToIdentity = dockflareBool.read(redirect.value) ?? false;
  const rules = get('access.custom_rules');
  if (rules) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rules.value);
    } catch {
      parsed = undefined;
    }
    if (
      Array.isArray(parsed) &&
      parsed.every((p) => typeof p === 'object' && p !== null && !Array.isArray(p))
    ) {
      spec.inlinePolicies = parsed as Record<string, unknown>[];
      const refused = spec.inlinePolicies
        .map((policy, i) => checkInlinePolicy(policy, i))
        .find((checked) => !checked.ok);
      if (refused && !refused.ok) error(rules, refused.reason);
    } else {
      error(rules, 'is not a JSON array of Access policy objects');
    }
  }
  if (spec.inlinePolicies?.length === 0 && !rules) {
    const policy = get('access.policy')!;
    problems.push(
      labelWarning({
        ...policy,
        reason:
          'asks for an Access application without access.custom_rules: it has no policy and lets nobody in',
      }),
    );
  }
  return spec;
}

function draft(
  key: string,
  get: Lookup,
  groups: LabelValue | undefined,
  labelOf: (k: string) => string,
): RouteDraft {
  const problems: LabelProblem[] = [];
  const service = get('service');
  const result: RouteDraft = {
    key,
    source: 'dockflare',
    hostnameLabel: labelOf('hostname'),
    serviceLabel: labelOf('service'),
    dns: true,
    cleanup: true,
    origin: originEntries(get, service, problems),
    dialect: dockflareBool,
    problems,
  };
  const hostname = get('hostname');
  if (hostname) result.hostname = hostname;
  if (service) result.service = service;
  const path = normalizePath(get('path'));
  if (path) result.path = path;
  const zone = get('zonename');
  if (zone) result.zone = zone;
  const access = buildAccess(get, groups, problems);
  if (access) result.access = access;
  return result;
}

/**
 * DockFlare keys a rule by hostname and path and lets the later definition (base first, then 0,
 * 1, …) overwrite an earlier one: the same here, with a warning on the route that won. When the
 * overwritten definition asked for Access and the winner does not, the winner is an error rather
 * than a silent loss of Access.
 */
function lastDefinitionWins(drafts: RouteDraft[]): RouteDraft[] {
  const identity = (d: RouteDraft) => `${d.hostname?.value.trim().toLowerCase()}\u0000${d.path?.value ?? ''}`;
  const last = new Map<string, RouteDraft>();
  for (const d of drafts) last.set(identity(d), d);
  return drafts.filter((d) => {
    const winner = last.get(identity(d))!;
    if (winner === d) return true;
    const reason = `is defined again by ${winner.hostname!.label}, whose definition wins, as in DockFlare`;
    winner.problems.push(labelWarning({ ...d.hostname!, reason }));
    if (d.access && !winner.access) {
      winner.problems.push(
        labelError({
          ...winner.hostname!,
          reason:
            `drops the Access that ${d.hostname!.label} asks for on the same hostname and path: refused, ` +
            'so that it never turns public; give both definitions the same access.* labels',
        }),
      );
    }
    return false;
  });
}

/**
 * Reads DockFlare labels: `dockflare.*`, indexed `dockflare.N.*` and legacy `cloudflare.tunnel.*`,
 * and first of all the host's custom `LABEL_PREFIX` when it has one.
 */
export function dockflareReader(labels: LabelMap, customPrefix?: string): ReaderResult {
  const problems: LabelProblem[] = [];
  const prefixes = customPrefix === undefined ? PREFIXES : [customPrefix, ...PREFIXES];
  const all = suffixes(labels, prefixes);
  if (all.length === 0) return { present: false, enabled: false, drafts: [], problems };
  const base: Lookup = (key) => resolve(labels, prefixes, key, problems);
  const enable = base('enable');
  if (enable === undefined || !dockflareBool.read(enable.value)) {
    if (enable === undefined) {
      problems.push(
        labelWarning({
          label: `${prefixes[0]}enable`,
          reason: 'is not set, so the DockFlare labels are ignored, as DockFlare does',
        }),
      );
    } else if (looksMeantTrue(enable.value)) {
      problems.push(
        labelWarning({
          ...enable,
          reason: `is read as false, as DockFlare does (true is ${dockflareBool.spellings})`,
        }),
      );
    }
    return { present: true, enabled: false, drafts: [], problems };
  }
  const labelOf = (index: string) => (key: string) => `${prefixes[0]}${index}${key}`;
  const drafts: RouteDraft[] = [];
  const baseGroups = groupsOf(base);
  const baseHostname = base('hostname');
  if (baseHostname && baseHostname.value.trim() !== '')
    drafts.push(draft('dockflare', base, baseGroups, labelOf('')));
  let index = 0;
  for (; ; index++) {
    const own: Lookup = (key) => resolve(labels, prefixes, `${index}.${key}`, problems);
    const hostname = own('hostname');
    if (hostname === undefined || hostname.value.trim() === '') break;
    const get: Lookup = (key) => own(key) ?? (key === 'hostname' ? undefined : base(key));
    // An own or inherited bypass/authenticate policy replaces the inherited groups, as in DockFlare.
    const policy = get('access.policy')?.value.trim().toLowerCase();
    const migrated = policy === 'bypass' || policy === 'authenticate';
    const groups =
      own('access.groups') || own('access.group') ? groupsOf(own) : migrated ? undefined : baseGroups;
    drafts.push(draft(`dockflare.${index}`, get, groups, labelOf(`${index}.`)));
  }
  if (drafts.length === 0) drafts.push(draft('dockflare', base, baseGroups, labelOf('')));
  checkSuffixes(all, index - 1, problems, labels, prefixes);
  return { present: true, enabled: true, drafts: lastDefinitionWins(drafts), problems };
}
