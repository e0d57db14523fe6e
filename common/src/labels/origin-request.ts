import type { BoolDialect } from './booleans.js';
import { parseDurationSeconds } from './duration.js';
import { checkHostname } from './hostname.js';
import { checkIpAddress, checkIpRange } from './ip-range.js';
import { foldKey, splitList } from './lists.js';
import { type Check, labelError, labelWarning, ok, refuse } from './problems.js';
import type { LabelProblem, OriginIpRule, OriginRequest } from './types.js';

type Kind =
  | 'duration'
  | 'bool'
  | 'connections'
  | 'port'
  | 'hostHeader'
  | 'serverName'
  | 'filePath'
  | 'ip'
  | 'proxyType'
  | 'ipRules'
  | 'teamName'
  | 'audTag';

/** Every cloudflared originRequest key (API spelling) with its value type. */
export const ORIGIN_KEYS = {
  connectTimeout: 'duration',
  tlsTimeout: 'duration',
  tcpKeepAlive: 'duration',
  noHappyEyeballs: 'bool',
  keepAliveConnections: 'connections',
  keepAliveTimeout: 'duration',
  httpHostHeader: 'hostHeader',
  originServerName: 'serverName',
  matchSNItoHost: 'bool',
  caPool: 'filePath',
  noTLSVerify: 'bool',
  disableChunkedEncoding: 'bool',
  bastionMode: 'bool',
  proxyAddress: 'ip',
  proxyPort: 'port',
  proxyType: 'proxyType',
  http2Origin: 'bool',
  ipRules: 'ipRules',
  'access.required': 'bool',
  'access.teamName': 'teamName',
  'access.audTag': 'audTag',
} as const satisfies Record<string, Kind>;

export type OriginKey = keyof typeof ORIGIN_KEYS;
export const ORIGIN_KEY_NAMES = Object.keys(ORIGIN_KEYS) as OriginKey[];

const BY_FOLDED = new Map<string, OriginKey>(
  ORIGIN_KEY_NAMES.map((key) => [key.split('.').map(foldKey).join('.'), key]),
);

/** `connect_timeout`, `connectTimeout`, `access.team_name` → the API key, or undefined. */
export function resolveOriginKey(written: string): OriginKey | undefined {
  return BY_FOLDED.get(written.split('.').map(foldKey).join('.'));
}

const DURATION_RANGE = { min: 1, max: 86_400 };
const CONNECTIONS_RANGE = { min: 1, max: 10_000 };

/** One `origin.<key>` label after key resolution. */
export interface OriginEntry {
  key: OriginKey;
  label: string;
  value: string;
}

function checkInt(text: string, min: number, max: number): Check<number> {
  if (!/^\d{1,9}$/.test(text.trim())) return refuse(`is not a whole number (${min}-${max})`);
  const value = Number(text.trim());
  return value < min || value > max ? refuse(`is out of range (${min}-${max})`) : ok(value);
}

function checkToken(text: string, what: string): Check<string> {
  const value = text.trim();
  if (value.length === 0) return refuse(`is empty (expected ${what})`);
  if (value.length > 255 || !/^[A-Za-z0-9._:[\]-]+$/.test(value)) return refuse(`is not ${what}`);
  return ok(value);
}

function checkIpRules(text: string): Check<OriginIpRule[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse('is not JSON (expected e.g. [{"prefix":"10.0.0.0/8","ports":[80],"allow":true}])');
  }
  if (!Array.isArray(parsed)) return refuse('is not a JSON array of {prefix, ports, allow}');
  const rules: OriginIpRule[] = [];
  for (const [index, item] of parsed.entries()) {
    const rule = item as { prefix?: unknown; ports?: unknown; allow?: unknown } | null;
    if (typeof rule !== 'object' || rule === null || typeof rule.prefix !== 'string') {
      return refuse(`has entry ${index} without a string "prefix"`);
    }
    const prefix = checkIpRange(rule.prefix);
    if (!prefix.ok) return refuse(`has entry ${index} whose prefix ${prefix.reason}`);
    const ports = rule.ports ?? [];
    if (!Array.isArray(ports) || !ports.every((p) => Number.isInteger(p) && p >= 1 && p <= 65535)) {
      return refuse(`has entry ${index} whose "ports" is not a list of ports 1-65535`);
    }
    if (typeof rule.allow !== 'boolean') return refuse(`has entry ${index} without a boolean "allow"`);
    rules.push({ prefix: prefix.value, ports: ports as number[], allow: rule.allow });
  }
  return ok(rules);
}

function checkValue(kind: Kind, text: string, dialect: BoolDialect): Check<unknown> {
  switch (kind) {
    case 'duration':
      return parseDurationSeconds(text, DURATION_RANGE);
    case 'bool': {
      const value = dialect.read(text);
      return value === undefined ? refuse(`is not a boolean (use ${dialect.spellings})`) : ok(value);
    }
    case 'connections':
      return checkInt(text, CONNECTIONS_RANGE.min, CONNECTIONS_RANGE.max);
    case 'port':
      return checkInt(text, 0, 65535);
    case 'hostHeader':
      return checkToken(text, 'a host header value such as "app.internal" or "app.internal:8080"');
    case 'serverName':
      return checkHostname(text, { wildcard: false, singleLabel: true });
    case 'filePath':
      return text.trim().startsWith('/') && !/\s/.test(text.trim())
        ? ok(text.trim())
        : refuse('is not an absolute file path without spaces');
    case 'ip':
      return checkIpAddress(text);
    case 'proxyType': {
      const value = text.trim().toLowerCase();
      return value === '' || value === 'socks'
        ? ok(value)
        : refuse('is not a proxy type (use "socks" or leave empty)');
    }
    case 'ipRules':
      return checkIpRules(text);
    case 'teamName':
      return /^[a-z0-9][a-z0-9-]{0,62}$/i.test(text.trim())
        ? ok(text.trim())
        : refuse('is not a Zero Trust team name');
    case 'audTag': {
      const tags = splitList(text);
      if (tags.length === 0)
        return refuse('is empty (expected comma-separated Access application audience tags)');
      const bad = tags.find((tag) => !/^[a-f0-9]{16,128}$/i.test(tag));
      return bad === undefined
        ? ok(tags)
        : refuse(`has ${JSON.stringify(bad.slice(0, 40))}, which is not an audience tag (hex)`);
    }
  }
}

interface OriginResult {
  originRequest: OriginRequest;
  problems: LabelProblem[];
}

/** Turns resolved `origin.*` entries (later entries win) into an API-shaped originRequest. */
export function buildOriginRequest(entries: readonly OriginEntry[], dialect: BoolDialect): OriginResult {
  const values = new Map<OriginKey, { value: unknown; label: string }>();
  const problems: LabelProblem[] = [];
  for (const entry of entries) {
    const checked = checkValue(ORIGIN_KEYS[entry.key], entry.value, dialect);
    if (checked.ok) {
      values.set(entry.key, { value: checked.value, label: entry.label });
    } else if (ORIGIN_KEYS[entry.key] === 'bool' && dialect.fallback !== undefined) {
      problems.push(
        labelWarning({
          label: entry.label,
          value: entry.value,
          reason: `${checked.reason}; read as ${dialect.fallback}`,
        }),
      );
      if (dialect.fallback) values.set(entry.key, { value: true, label: entry.label });
    } else {
      problems.push(labelError({ label: entry.label, value: entry.value, reason: checked.reason }));
    }
  }
  const originRequest: OriginRequest = {};
  const access: Partial<Record<'required' | 'teamName' | 'audTag', unknown>> = {};
  let accessLabel: string | undefined;
  for (const [key, { value, label }] of values) {
    if (key.startsWith('access.')) {
      access[key.slice('access.'.length) as keyof typeof access] = value;
      accessLabel ??= label;
    } else {
      (originRequest as Record<string, unknown>)[key] = value;
    }
  }
  if (accessLabel !== undefined) {
    const missing = (['teamName', 'audTag'] as const).filter((key) => access[key] === undefined);
    if (missing.length > 0) {
      problems.push(
        labelError({
          label: accessLabel,
          reason: `origin access also needs ${missing.map((k) => `origin.access.${k}`).join(' and ')}`,
        }),
      );
    } else {
      originRequest.access = access as NonNullable<OriginRequest['access']>;
    }
  }
  return { originRequest, problems };
}
