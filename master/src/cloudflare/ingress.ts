import { isDeepStrictEqual } from 'node:util';

/** A rule as the tunnel configuration holds it; unknown keys of foreign rules are kept. */
export interface IngressRule {
  hostname?: string;
  path?: string;
  service: string;
  originRequest?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A rule Tunnelfleet wants on the tunnel. */
export interface DesiredIngressRule {
  hostname: string;
  path?: string;
  service: string;
  originRequest?: Record<string, unknown>;
}

interface IngressMergeInput {
  current: readonly IngressRule[];
  desired: readonly DesiredIngressRule[];
  /** Keys (see `ingressKey`) of the rules Tunnelfleet wrote before: only these may change. */
  ownedKeys: Iterable<string>;
  /** Take over a foreign rule that sits on a wanted key instead of reporting a conflict. */
  adopt?: boolean;
}

export interface IngressMergeResult {
  ingress: IngressRule[];
  /** Keys Tunnelfleet owns once `ingress` is written. */
  ownedKeys: string[];
  /** Wanted keys held by a foreign rule, left untouched. */
  conflicts: string[];
  /** Our keys placed after an overlapping foreign rule that already matched first. */
  shadowed: string[];
  /** Wanted rules that the API would refuse, left out so the others still apply. */
  rejected: { key: string; message: string }[];
}

export const MAX_INGRESS_RULES = 1000;
const DEFAULT_CATCH_ALL: IngressRule = { service: 'http_status:404' };

const HOSTNAME_RE = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$/;
const SERVICE_RE =
  /^(https?|tcp|ssh|rdp|smb|wss?):\/\/[^\s/]+\S*$|^unix(\+tls)?:\S+$|^http_status:[1-5]\d\d$|^(hello_world|hello-world|bastion|socks-proxy)$/;

/** Identity of a rule: lower-case hostname, plus its path when it has one. */
export function ingressKey(hostname: string, path?: string): string {
  const host = hostname.trim().toLowerCase();
  return path ? `${host}|${path}` : host;
}

/** Key of a rule as the tunnel holds it (none for the catch-all). */
export function ruleKey(rule: IngressRule): string | undefined {
  return rule.hostname ? ingressKey(rule.hostname, rule.path) : undefined;
}

function isCatchAll(rule: IngressRule | undefined): boolean {
  return rule !== undefined && !rule.hostname && !rule.path;
}

/**
 * Whether some request could match both rules. cloudflared matches a wildcard `*.x` by suffix
 * `.x`, a rule without hostname matches every host, and paths are unanchored regular
 * expressions, so two paths are assumed to overlap whenever their hosts do.
 */
function overlaps(a: IngressRule, b: IngressRule): boolean {
  const ha = a.hostname?.toLowerCase();
  const hb = b.hostname?.toLowerCase();
  if (!ha || !hb) return true;
  const sa = ha.startsWith('*.') ? ha.slice(1) : undefined;
  const sb = hb.startsWith('*.') ? hb.slice(1) : undefined;
  if (sa && sb) return sa.endsWith(sb) || sb.endsWith(sa);
  if (sa) return hb.endsWith(sa);
  if (sb) return ha.endsWith(sb);
  return ha === hb;
}

/** Exact hostnames before wildcards, narrower wildcards first, longer paths before shorter. */
function bySpecificity(a: IngressRule, b: IngressRule): number {
  const ha = a.hostname?.toLowerCase() ?? '';
  const hb = b.hostname?.toLowerCase() ?? '';
  const wa = ha.startsWith('*.');
  const wb = hb.startsWith('*.');
  if (wa !== wb) return wa ? 1 : -1;
  if (wa && ha.length !== hb.length) return hb.length - ha.length;
  if (ha !== hb) return ha < hb ? -1 : 1;
  const pa = a.path ?? '';
  const pb = b.path ?? '';
  if (pa.length !== pb.length) return pb.length - pa.length;
  return pa < pb ? -1 : pa > pb ? 1 : 0;
}

/** A wanted rule as it is written on the tunnel. */
export function renderIngressRule(rule: DesiredIngressRule): IngressRule {
  const out: IngressRule = { hostname: rule.hostname.trim().toLowerCase(), service: rule.service };
  if (rule.path) out.path = rule.path;
  if (rule.originRequest && Object.keys(rule.originRequest).length > 0)
    out.originRequest = rule.originRequest;
  return out;
}

function validate(rule: DesiredIngressRule): string | undefined {
  const host = rule.hostname.trim().toLowerCase();
  if (!HOSTNAME_RE.test(host))
    return `hostname "${rule.hostname}" is not a valid hostname (a wildcard only as the leftmost label)`;
  if (!SERVICE_RE.test(rule.service)) return `service "${rule.service}" has no scheme cloudflared accepts`;
  return undefined;
}

/** Drops what the API adds or omits without meaning (an empty originRequest, an empty path). */
function comparable(rule: IngressRule): IngressRule {
  const { originRequest, path, ...rest } = rule;
  const out: IngressRule = { ...rest };
  if (path) out.path = path;
  if (originRequest && Object.keys(originRequest).length > 0) out.originRequest = originRequest;
  return out;
}

export function sameIngress(a: readonly IngressRule[], b: readonly IngressRule[]): boolean {
  return (
    a.length === b.length && a.every((rule, i) => isDeepStrictEqual(comparable(rule), comparable(b[i]!)))
  );
}

/**
 * Merges Tunnelfleet's rules into a tunnel's ingress without disturbing anyone else's.
 *
 * - Foreign rules (every rule whose key we do not own) keep their content and relative order.
 * - Owned rules no longer wanted are removed; wanted ones are (re)written.
 * - Placement: a new rule of ours goes after every foreign rule (just before the catch-all),
 *   so it can never take requests that a foreign rule serves today, and foreign rules keep
 *   their indices. A rule of ours that exists already stays between the same foreign rules
 *   (no reshuffle, so no write, when an operator adds a rule of their own). Among our own
 *   rules, exact hostnames precede wildcards and longer paths precede shorter ones: a less
 *   specific rule of ours that overlaps a more specific one is moved down to it, never the
 *   other way round, so ordering never moves a rule of ours up past a foreign rule.
 *   An overlapping foreign rule in front of one of ours is reported in `shadowed`.
 * - The operator's catch-all stays last; without one, `http_status:404` is added.
 */
export function mergeIngress(input: IngressMergeInput): IngressMergeResult {
  const owned = new Set(input.ownedKeys);
  const rejected: { key: string; message: string }[] = [];
  const wanted = new Map<string, IngressRule>();
  for (const rule of input.desired) {
    const key = ingressKey(rule.hostname, rule.path);
    const problem =
      validate(rule) ?? (wanted.has(key) ? 'another wanted rule has the same hostname and path' : undefined);
    if (problem) rejected.push({ key, message: problem });
    else wanted.set(key, renderIngressRule(rule));
  }

  const last = input.current.at(-1);
  const catchAll = isCatchAll(last) ? last! : DEFAULT_CATCH_ALL;
  const body = isCatchAll(last) ? input.current.slice(0, -1) : [...input.current];

  const foreign: { rule: IngressRule; pos: number }[] = [];
  const previous = new Map<string, { rule: IngressRule; pos: number }>();
  const conflicts: string[] = [];
  body.forEach((rule, pos) => {
    const key = ruleKey(rule);
    const ours = key !== undefined && (owned.has(key) || (input.adopt === true && wanted.has(key)));
    if (!ours) {
      foreign.push({ rule, pos });
      if (key !== undefined && wanted.has(key) && !conflicts.includes(key)) conflicts.push(key);
      return;
    }
    // A duplicate of one of our rules could never match: keep only the first.
    if (!previous.has(key)) previous.set(key, { rule, pos });
  });
  for (const key of conflicts) wanted.delete(key);

  const n = foreign.length;
  const placed = [...wanted.entries()]
    .map(([key, rule]) => {
      const before = previous.get(key);
      const kept =
        before && isDeepStrictEqual(comparable(before.rule), comparable(rule)) ? before.rule : rule;
      // An existing rule keeps its gap; a new one goes after every foreign rule.
      const gap = before ? foreign.filter((f) => f.pos < before.pos).length : n;
      return { key, rule: kept, gap };
    })
    .sort((a, b) => bySpecificity(a.rule, b.rule));
  placed.forEach((r, i) => {
    for (let k = 0; k < i; k++) {
      const more = placed[k]!;
      if (more.gap > r.gap && overlaps(more.rule, r.rule)) r.gap = more.gap;
    }
  });

  const ingress: IngressRule[] = [];
  const shadowed: string[] = [];
  for (let g = 0; g <= n; g++) {
    for (const r of placed) {
      if (r.gap !== g) continue;
      ingress.push(r.rule);
      if (foreign.slice(0, g).some((f) => overlaps(f.rule, r.rule))) shadowed.push(r.key);
    }
    const f = foreign[g];
    if (f) ingress.push(f.rule);
  }
  ingress.push(catchAll);

  return { ingress, ownedKeys: placed.map((r) => r.key).sort(), conflicts, shadowed, rejected };
}
