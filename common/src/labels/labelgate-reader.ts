import { checkAppName, checkSessionDuration, finishPolicy, type PolicyParts } from './access.js';
import { checkDecision, resolveSelector, SELECTORS, selectorRules } from './access-rules.js';
import { labelgateBool } from './booleans.js';
import { didYouMean } from './did-you-mean.js';
import { parseDuration } from './duration.js';
import { ORIGIN_KEYS, type OriginEntry, resolveOriginKey } from './origin-request.js';
import { checkLabel, labelError, labelWarning } from './problems.js';
import type { LabelMap, ReaderResult } from './reader.js';
import type { LabelValue, RouteDraft } from './route-draft.js';
import type { AccessSpec, LabelProblem } from './types.js';

/** Labelgate's own prefix; a host's `LABELGATE_LABEL_PREFIX` replaces it, as in Labelgate. */
const DEFAULT_PREFIX = 'labelgate.';
const TYPES = ['tunnel', 'access', 'dns'];
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const RESERVED = new Set(
  'hostname service type target proxied ttl cleanup credential tunnel path origin access priority weight port flags tag comment'.split(
    ' ',
  ),
);
const TUNNEL_PROPS = ['hostname', 'service', 'path', 'tunnel', 'credential', 'cleanup', 'access'];
const DEFAULT_PROPS = ['tunnel', 'credential', 'cleanup'];
const ACCESS_PROPS = [
  'app_name',
  'session_duration',
  'policy.decision',
  'policy.name',
  ...['include', 'require', 'exclude'].flatMap((l) => SELECTORS.map((s) => `policy.${l}.${s}`)),
];
/** Labelgate's name for the tunnel it uses when a service names none: the agent's own tunnel here. */
const DEFAULT_TUNNEL = 'default';

type Properties = Map<string, LabelValue>;

/** labels grouped as type → service name → property → label. */
function group(
  labels: LabelMap,
  prefix: string,
  problems: LabelProblem[],
): Map<string, Map<string, Properties>> {
  const groups = new Map<string, Map<string, Properties>>(TYPES.map((t) => [t, new Map()]));
  for (const [label, value] of labels) {
    if (!label.startsWith(prefix)) continue;
    const rest = label.slice(prefix.length);
    const first = rest.indexOf('.');
    const second = first === -1 ? -1 : rest.indexOf('.', first + 1);
    if (second === -1) {
      problems.push(
        labelWarning({
          label,
          reason: `is ignored: not a Labelgate key (${prefix}<type>.<service>.<property>)`,
        }),
      );
      continue;
    }
    const [type, name, property] = [
      rest.slice(0, first),
      rest.slice(first + 1, second),
      rest.slice(second + 1),
    ];
    if (!NAME.test(name) || RESERVED.has(name)) {
      const why = RESERVED.has(name)
        ? 'is a reserved word'
        : 'is not lower-case letters, digits and inner "-" (at most 63)';
      problems.push(
        labelError({
          label,
          reason: `is ignored: the service name ${JSON.stringify(name.slice(0, 80))} ${why}, as Labelgate refuses it too`,
        }),
      );
      continue;
    }
    const services = groups.get(type);
    if (services === undefined) {
      problems.push(
        labelWarning({
          label,
          reason: `is ignored: "${type.slice(0, 80)}" is not a Labelgate type${didYouMean(type, TYPES)}`,
        }),
      );
      continue;
    }
    const properties = services.get(name) ?? new Map<string, LabelValue>();
    properties.set(property, { label, value });
    services.set(name, properties);
  }
  return groups;
}

function unknownProperty(
  field: LabelValue,
  property: string,
  known: readonly string[],
  prefix: string,
): LabelProblem {
  return labelWarning({
    label: field.label,
    reason: `is not a Labelgate property Tunnelfleet reads; ignored${didYouMean(property, known, prefix)}`,
  });
}

/** A Labelgate access definition as an AccessSpec, or the reasons it is refused. */
function accessDefinition(
  name: string,
  properties: Properties,
  prefix: string,
  problems: LabelProblem[],
): AccessSpec {
  const spec: AccessSpec = { namedPolicies: [] };
  const parts: PolicyParts = { include: [], require: [], exclude: [] };
  const error = (field: LabelValue, reason: string) => problems.push(labelError({ ...field, reason }));
  for (const [property, field] of properties) {
    const rule = /^policy\.(include|require|exclude)\.(.+)$/.exec(property);
    if (rule) {
      const selector = resolveSelector(rule[2] ?? '');
      if (selector === undefined) {
        error(
          field,
          `has an unknown selector "${(rule[2] ?? '').slice(0, 80)}"${didYouMean(rule[2] ?? '', SELECTORS)}`,
        );
        continue;
      }
      const rules = selectorRules(selector, field.value, 'ignored');
      if (rules.ok) parts[rule[1] as 'include' | 'require' | 'exclude'].push(...rules.value);
      else error(field, rules.reason);
    } else if (property === 'policy.decision') {
      const decision = checkDecision(field.value);
      if (decision.ok) parts.decision = decision.value;
      else error(field, decision.reason);
    } else if (property === 'policy.name') {
      parts.name = field.value.trim();
    } else if (property === 'app_name') {
      const appName = checkLabel(field, checkAppName, problems);
      if (appName !== undefined) spec.appName = appName;
    } else if (property === 'session_duration') {
      const sessionDuration = checkLabel(field, checkSessionDuration, problems);
      if (sessionDuration !== undefined) spec.sessionDuration = sessionDuration;
    } else {
      problems.push(unknownProperty(field, property, ACCESS_PROPS, `${prefix}access.${name}.`));
    }
  }
  // Labelgate's decision defaults to allow, even for service tokens.
  const policy = finishPolicy({ ...parts, decision: parts.decision ?? 'allow' });
  const first = properties.values().next().value as LabelValue;
  const hasErrors = problems.some((p) => p.severity === 'error');
  if (!policy.ok) {
    if (!hasErrors)
      problems.push(
        labelError({ label: properties.get('policy.decision')?.label ?? first.label, reason: policy.reason }),
      );
  } else if (policy.value) spec.policy = policy.value;
  return spec;
}

/** Labelgate omits zero durations and a zero connection count rather than sending them. */
function isLabelgateUnset(entry: OriginEntry): boolean {
  const kind = ORIGIN_KEYS[entry.key];
  if (kind === 'connections') return /^\s*0*\s*$/.test(entry.value) || /^\s*-/.test(entry.value);
  if (kind !== 'duration') return false;
  const parsed = parseDuration(entry.value);
  return entry.value.trim().startsWith('-') || (parsed.ok && parsed.value === 0n);
}

function originEntry(
  field: LabelValue,
  written: string,
  tunnelPrefix: string,
  problems: LabelProblem[],
): OriginEntry | undefined {
  const key = resolveOriginKey(written);
  if (key === undefined) {
    problems.push(
      unknownProperty(
        field,
        `origin.${written}`,
        Object.keys(ORIGIN_KEYS).map((k) => `origin.${k}`),
        tunnelPrefix,
      ),
    );
    return undefined;
  }
  // Labelgate treats an empty value as unset (compose's `${VAR:-}` leaves one): nothing to report.
  if (field.value.trim() === '') return undefined;
  const entry = { key, ...field };
  if (!isLabelgateUnset(entry)) return entry;
  problems.push(
    labelWarning({ ...field, reason: 'is ignored: Labelgate leaves zero (or negative) values unset' }),
  );
  return undefined;
}

function readCleanup(field: LabelValue | undefined, problems: LabelProblem[]): boolean {
  if (field === undefined) return true;
  const value = labelgateBool.read(field.value);
  if (value !== undefined) return value;
  problems.push(
    labelWarning({
      ...field,
      reason: `is not a boolean (${labelgateBool.spellings}); the default true is kept, as in Labelgate`,
    }),
  );
  return true;
}

interface Definitions {
  specs: Map<string, { spec: AccessSpec; problems: LabelProblem[] }>;
  used: Set<string>;
}

function tunnelDraft(
  name: string,
  properties: Properties,
  defaults: Properties,
  definitions: Definitions,
  prefix: string,
): RouteDraft {
  const problems: LabelProblem[] = [];
  const tunnelPrefix = `${prefix}tunnel.${name}.`;
  const labelOf = (property: string) => `${tunnelPrefix}${property}`;
  const origin: OriginEntry[] = [];
  const draft: RouteDraft = {
    key: `labelgate.${name}`,
    source: 'labelgate',
    hostnameLabel: labelOf('hostname'),
    serviceLabel: labelOf('service'),
    dns: true,
    cleanup: readCleanup(properties.get('cleanup') ?? defaults.get('cleanup'), problems),
    origin,
    dialect: labelgateBool,
    problems,
  };
  for (const [property, field] of properties) {
    if (property.startsWith('origin.')) {
      const entry = originEntry(field, property.slice('origin.'.length), tunnelPrefix, problems);
      if (entry) origin.push(entry);
    } else if (!TUNNEL_PROPS.includes(property)) {
      problems.push(
        unknownProperty(field, property, [...TUNNEL_PROPS, 'origin.connect_timeout'], tunnelPrefix),
      );
    }
  }
  for (const property of ['hostname', 'service', 'path'] as const) {
    const field = properties.get(property);
    if (field) draft[property] = field;
  }
  const tunnel = properties.get('tunnel') ?? defaults.get('tunnel');
  if (tunnel && tunnel.value.trim() !== DEFAULT_TUNNEL) draft.tunnel = tunnel;
  const credential = properties.get('credential') ?? defaults.get('credential');
  if (credential && credential.value.trim() !== 'default') {
    problems.push(
      labelWarning({
        ...credential,
        reason: "is ignored: the master picks the Cloudflare token by the hostname's zone",
      }),
    );
  }
  const access = properties.get('access');
  if (access && access.value.trim() !== '') {
    const policyName = access.value.trim();
    const definition = definitions.specs.get(policyName);
    definitions.used.add(policyName);
    if (definition) {
      problems.push(...definition.problems);
      draft.access = definition.spec;
    } else if (!NAME.test(policyName)) {
      problems.push(
        labelError({
          ...access,
          reason: 'is not an access definition name (lower-case letters, digits and inner "-", at most 63)',
        }),
      );
    } else {
      draft.access = { namedPolicies: [policyName] };
      problems.push(
        labelWarning({
          ...access,
          reason: `names an access definition not on this container: it is read as the policy "${policyName}" defined on the master`,
        }),
      );
    }
  }
  return draft;
}

/**
 * Reads Labelgate labels: `labelgate.tunnel.<svc>.*` routes and the `labelgate.access.<name>.*` they
 * bind, under the host's custom `LABELGATE_LABEL_PREFIX` instead of `labelgate.` when it has one.
 */
export function labelgateReader(labels: LabelMap, customPrefix?: string): ReaderResult {
  const problems: LabelProblem[] = [];
  const prefix = customPrefix ?? DEFAULT_PREFIX;
  if (![...labels.keys()].some((key) => key.startsWith(prefix)))
    return { present: false, enabled: false, drafts: [], problems };
  const groups = group(labels, prefix, problems);
  for (const [name, properties] of groups.get('dns')!) {
    const first = properties.values().next().value as LabelValue;
    problems.push(
      labelWarning({
        label: first.label,
        reason: `is ignored: Labelgate DNS service "${name}" manages a plain DNS record, which Tunnelfleet does not support`,
      }),
    );
  }
  const definitions: Definitions = { specs: new Map(), used: new Set() };
  for (const [name, properties] of groups.get('access')!) {
    if (name === 'default') {
      for (const field of properties.values())
        problems.push(labelWarning({ ...field, reason: 'is ignored, as Labelgate does' }));
      continue;
    }
    const definitionProblems: LabelProblem[] = [];
    definitions.specs.set(name, {
      spec: accessDefinition(name, properties, prefix, definitionProblems),
      problems: definitionProblems,
    });
  }
  const tunnels = groups.get('tunnel')!;
  const defaults = tunnels.get('default') ?? new Map<string, LabelValue>();
  for (const [property, field] of defaults) {
    if (!DEFAULT_PROPS.includes(property)) {
      problems.push(
        labelWarning({
          ...field,
          reason: `is ignored: tunnel.default only sets ${DEFAULT_PROPS.join(', ')}`,
        }),
      );
    }
  }
  const drafts = [...tunnels]
    .filter(([name]) => name !== 'default')
    .map(([name, properties]) => tunnelDraft(name, properties, defaults, definitions, prefix));
  for (const name of definitions.specs.keys()) {
    if (definitions.used.has(name)) continue;
    const first = groups.get('access')!.get(name)!.values().next().value as LabelValue;
    problems.push(
      labelWarning({
        label: first.label,
        reason: `is not used: no ${prefix}tunnel.<service>.access=${name} on this container binds it`,
      }),
    );
  }
  return { present: true, enabled: drafts.length > 0, drafts, problems };
}
