import { ACCESS_KEYS, type AccessEntry, buildAccess } from './access.js';
import { strictBool } from './booleans.js';
import { didYouMean } from './did-you-mean.js';
import { L7_HEADS, L7_KEYS, type L7Entry } from './l7.js';
import { ORIGIN_KEY_NAMES, type OriginEntry, resolveOriginKey } from './origin-request.js';
import { labelError, labelWarning } from './problems.js';
import type { LabelMap, ReaderResult } from './reader.js';
import type { LabelValue, RouteDraft } from './route-draft.js';
import type { LabelProblem } from './types.js';
import { WAKE_KEYS, type WakeKey } from './wake.js';

export const TUNNELFLEET_PREFIX = 'tunnelfleet.';
const SCALAR_KEYS = [
  'hostname',
  'service',
  'path',
  'zone',
  'tunnel',
  'dns',
  'cleanup',
  ...WAKE_KEYS,
] as const;
type ScalarKey = (typeof SCALAR_KEYS)[number];
/** Keys a named route takes from the base labels when it does not set them itself. */
const INHERITED: readonly ScalarKey[] = ['service', 'zone', 'tunnel', 'dns', 'cleanup'];
const ROUTE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const BASE_ROUTE = 'default';

/** Every key a route accepts (after `tunnelfleet.` or `tunnelfleet.<route>.`). */
export const ROUTE_KEYS: readonly string[] = [
  ...SCALAR_KEYS,
  ...ORIGIN_KEY_NAMES.map((k) => `origin.${k}`),
  ...ACCESS_KEYS.map((k) => `access.${k}`),
  ...L7_KEYS,
];
const CONTAINER_KEYS = ['enable', ...ROUTE_KEYS];
// `schedule.start` and its kin are scalars of two parts: their head is no route name either.
const KEY_HEADS = new Set([
  'enable',
  'origin',
  'access',
  ...SCALAR_KEYS.map((k) => k.split('.')[0]!),
  ...L7_HEADS,
]);

interface RouteLabels {
  scalars: Map<ScalarKey, LabelValue>;
  origin: OriginEntry[];
  access: AccessEntry[];
  l7: L7Entry[];
}

const emptyRoute = (): RouteLabels => ({ scalars: new Map(), origin: [], access: [], l7: [] });

/** Files one key (split after the route part) into a route; false when the key is unknown. */
function file(
  route: RouteLabels,
  parts: string[],
  label: string,
  value: string,
  problems: LabelProblem[],
): boolean {
  const [head = '', ...rest] = parts;
  const key = parts.join('.');
  if ((SCALAR_KEYS as readonly string[]).includes(key)) {
    route.scalars.set(key as ScalarKey, { label, value });
    return true;
  }
  if (head === 'origin' && rest.length > 0) {
    const key = resolveOriginKey(rest.join('.'));
    if (key === undefined) {
      const prefix = label.slice(0, label.length - rest.join('.').length);
      const hint = didYouMean(rest.join('.'), ORIGIN_KEY_NAMES, prefix);
      problems.push(
        labelWarning({ label, reason: `is not a cloudflared originRequest key; ignored${hint}` }),
      );
    } else {
      route.origin.push({ key, label, value });
    }
    return true;
  }
  if (head === 'access' && rest.length > 0) {
    route.access.push({ key: rest.join('.'), label, value });
    return true;
  }
  if (
    ((head === 'match' || head === 'filter') && rest.length > 0) ||
    ((head === 'weight' || head === 'mirror') && rest.length === 0)
  ) {
    route.l7.push({ key: parts.join('.'), label, value });
    return true;
  }
  return false;
}

function unknownKey(
  label: string,
  written: string,
  candidates: readonly string[],
  prefix: string,
): LabelProblem {
  return labelWarning({
    label,
    reason: `is not a known key; ignored${didYouMean(written, candidates, prefix)}`,
  });
}

function collect(labels: LabelMap, problems: LabelProblem[]): Map<string, RouteLabels> {
  const routes = new Map<string, RouteLabels>([[BASE_ROUTE, emptyRoute()]]);
  for (const [label, value] of labels) {
    if (!label.startsWith(TUNNELFLEET_PREFIX) || label === `${TUNNELFLEET_PREFIX}enable`) continue;
    const written = label.slice(TUNNELFLEET_PREFIX.length);
    const parts = written.split('.');
    if (file(routes.get(BASE_ROUTE)!, parts, label, value, problems)) continue;
    const [name = '', ...rest] = parts;
    if (rest.length === 0 || KEY_HEADS.has(name)) {
      problems.push(unknownKey(label, written, CONTAINER_KEYS, TUNNELFLEET_PREFIX));
    } else if (!ROUTE_NAME.test(name)) {
      const lower = name.toLowerCase();
      const hint = ROUTE_NAME.test(lower)
        ? ` (did you mean "${TUNNELFLEET_PREFIX}${[lower, ...rest].join('.')}"?)`
        : didYouMean(written, CONTAINER_KEYS, TUNNELFLEET_PREFIX);
      problems.push(
        labelError({
          label,
          reason: `has the route name ${JSON.stringify(name.slice(0, 80))}, which is not lower-case letters, digits and inner "-" (at most 63); ignored${hint}`,
        }),
      );
    } else if (name === BASE_ROUTE) {
      problems.push(
        labelError({
          label,
          reason: `uses the reserved route name "${BASE_ROUTE}"; write tunnelfleet.${rest.join('.')}`,
        }),
      );
    } else if (rest.length === 1 && rest[0] === 'enable') {
      problems.push(
        labelWarning({ label, reason: 'is ignored: enable is per container, use tunnelfleet.enable' }),
      );
    } else {
      const route = routes.get(name) ?? emptyRoute();
      if (file(route, rest, label, value, problems)) routes.set(name, route);
      else {
        const typo = didYouMean(written, CONTAINER_KEYS, TUNNELFLEET_PREFIX);
        problems.push(
          typo
            ? unknownKey(label, written, CONTAINER_KEYS, TUNNELFLEET_PREFIX)
            : unknownKey(label, rest.join('.'), ROUTE_KEYS, `${TUNNELFLEET_PREFIX}${name}.`),
        );
      }
    }
  }
  return routes;
}

function draftFor(key: string, own: RouteLabels, base: RouteLabels | undefined): RouteDraft {
  const prefix = key === BASE_ROUTE ? TUNNELFLEET_PREFIX : `${TUNNELFLEET_PREFIX}${key}.`;
  const scalar = (name: ScalarKey) =>
    own.scalars.get(name) ?? (INHERITED.includes(name) ? base?.scalars.get(name) : undefined);
  const draft: RouteDraft = {
    key,
    source: 'tunnelfleet',
    hostnameLabel: `${prefix}hostname`,
    serviceLabel: `${prefix}service`,
    dns: true,
    cleanup: true,
    origin: [...(base?.origin ?? []), ...own.origin],
    dialect: strictBool,
    problems: [],
  };
  for (const name of ['hostname', 'service', 'path', 'zone', 'tunnel'] as const) {
    const value = scalar(name);
    if (value !== undefined) draft[name] = value;
  }
  // Wake settings are the route's own: a named route does not inherit the base route's sleep.
  const wake: Partial<Record<WakeKey, LabelValue>> = {};
  for (const name of WAKE_KEYS) {
    const field = own.scalars.get(name);
    if (field !== undefined) wake[name] = field;
  }
  if (Object.keys(wake).length > 0) draft.wake = wake;
  // So are its matches, weight and filters: a named route is another route, not a copy.
  if (own.l7.length > 0) {
    draft.l7 = own.l7;
    draft.keyPrefix = prefix;
  }
  for (const name of ['dns', 'cleanup'] as const) {
    const field = scalar(name);
    if (field === undefined) continue;
    const read = strictBool.read(field.value);
    if (read === undefined) {
      draft.problems.push(labelError({ ...field, reason: `is not a boolean (use ${strictBool.spellings})` }));
    } else {
      draft[name] = read;
    }
  }
  const ownAccess = own.access.length > 0;
  const access = buildAccess(
    ownAccess ? own.access : (base?.access ?? []),
    strictBool,
    ownAccess ? prefix : TUNNELFLEET_PREFIX,
  );
  draft.problems.push(...access.problems);
  if (access.access !== undefined) draft.access = access.access;
  if (access.public) draft.public = true;
  return draft;
}

/** Reads `tunnelfleet.*` labels: the base route and the named routes `tunnelfleet.<route>.*`. */
export function readTunnelfleetLabels(labels: LabelMap): ReaderResult {
  const problems: LabelProblem[] = [];
  const ours = [...labels.keys()].filter((key) => key.startsWith(TUNNELFLEET_PREFIX));
  for (const key of labels.keys()) {
    if (!key.startsWith(TUNNELFLEET_PREFIX) && key.toLowerCase().startsWith(TUNNELFLEET_PREFIX)) {
      problems.push(
        labelWarning({
          label: key,
          reason: 'is ignored: label keys are case-sensitive, write "tunnelfleet." in lower case',
        }),
      );
    }
  }
  if (ours.length === 0) return { present: problems.length > 0, enabled: false, drafts: [], problems };
  const enable = labels.get(`${TUNNELFLEET_PREFIX}enable`);
  if (enable === undefined) {
    problems.push(
      labelWarning({
        label: `${TUNNELFLEET_PREFIX}enable`,
        reason: `is not set, so the ${ours.length} tunnelfleet label(s) are ignored (add tunnelfleet.enable=true)`,
      }),
    );
    return { present: true, enabled: false, drafts: [], problems };
  }
  const enabled = strictBool.read(enable);
  if (enabled === undefined) {
    problems.push(
      labelError({
        label: `${TUNNELFLEET_PREFIX}enable`,
        value: enable,
        reason: `is not a boolean (use ${strictBool.spellings})`,
      }),
    );
    return { present: true, enabled: false, drafts: [], problems };
  }
  if (!enabled) return { present: true, enabled: false, drafts: [], problems };

  const routes = collect(labels, problems);
  const base = routes.get(BASE_ROUTE)!;
  const named = [...routes.entries()].filter(([key]) => key !== BASE_ROUTE);
  const drafts: RouteDraft[] = [];
  if (base.scalars.has('hostname') || named.length === 0) drafts.push(draftFor(BASE_ROUTE, base, undefined));
  for (const [key, own] of named) drafts.push(draftFor(key, own, base));
  return { present: true, enabled: true, drafts, problems };
}
