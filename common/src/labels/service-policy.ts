import type { OriginRequest } from './types.js';

/**
 * Which services an agent key may publish. A route's service is reached by cloudflared on the
 * agent's host, so a label can point the internet at whatever that host can reach: its cloud
 * metadata endpoint, cloudflared's own loopback, the Docker socket. Those kinds are refused
 * unless the key opens them, and a key can be narrowed to its containers' own names.
 *
 * This is the one validator of services: the master's routes engine and `labels check` both run
 * it (through `parseContainerLabels`), so they cannot disagree.
 */

/** Kinds of service refused unless a key's `servicePolicy.allow` lists them. */
export const SERVICE_KINDS = ['loopback', 'link-local', 'unix', 'bastion', 'socks'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** What each kind covers, for messages and docs. */
export const SERVICE_KIND_MEANINGS: Record<ServiceKind, string> = {
  loopback:
    'a loopback address or name (127.0.0.0/8, 0.0.0.0/8, ::1, ::, localhost), which is cloudflared itself',
  'link-local':
    'a link-local address or cloud metadata endpoint (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, metadata.google.internal)',
  unix: 'a unix socket on the agent host',
  bastion: 'bastion mode, which lets a client reach any address the agent host can reach',
  socks:
    'a SOCKS proxy (origin proxyType=socks), which lets a client reach any address the agent host can reach',
};

export interface ServicePolicy {
  /** Kinds of service, refused by default, that this key may publish. */
  allow: readonly ServiceKind[];
  /**
   * Narrowed: a URL service must name the reporting container itself (its name, a network alias
   * or an address as reported in the snapshot). Applies after the refused kinds.
   */
  containerOnly: boolean;
}

/** A key created without a service policy: nothing of `SERVICE_KINDS`, any container. */
export const DEFAULT_SERVICE_POLICY: ServicePolicy = Object.freeze({
  allow: Object.freeze([]),
  containerOnly: false,
});

/** The reporting container's own names and addresses, for `containerOnly`. */
export interface OwnContainer {
  name: string;
  networks: Record<string, { ipAddress: string; aliases: string[] }>;
}

export type ServiceVerdict =
  | { allowed: true }
  | { allowed: false; rule: ServiceKind | 'container-only' | 'unreadable'; reason: string };

/** Where a service is checked from: its normalized service and origin options. */
export interface ServiceToCheck {
  service: string;
  originRequest: Pick<OriginRequest, 'bastionMode' | 'proxyType'>;
}

// Names that resolve to a cloud metadata endpoint inside cloud networks.
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);
// The names /etc/hosts and RFC 6761 give the loopback.
const LOOPBACK_NAMES = new Set([
  'localhost',
  'localhost.localdomain',
  'localhost6',
  'localhost6.localdomain6',
  'ip6-localhost',
  'ip6-loopback',
]);
const ALIBABA_METADATA = '100.100.100.200';

/** A reason that completes `<label>: "<value>" …`, naming the rule and how to open it. */
function refused(rule: ServiceKind, subject: string): ServiceVerdict {
  return {
    allowed: false,
    rule,
    reason: `is refused by the key's service policy: ${subject} is ${SERVICE_KIND_MEANINGS[rule]} (rule "${rule}"; to allow it, create the agent's key with --allow-service ${rule})`,
  };
}

/**
 * The host as a resolver would read it, through the WHATWG URL parser: decimal, hex and octal
 * IPv4 forms become dotted quads, IPv6 is compressed, case and a trailing dot are dropped.
 * Non-special schemes (tcp://, ssh://) keep an opaque host, so it is parsed again as http.
 */
function canonicalHost(service: string): string | undefined {
  try {
    const opaque = new URL(service).hostname;
    const host = new URL(`http://${opaque}`).hostname;
    return host.replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

function ipv4Octets(host: string): number[] | undefined {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return undefined;
  return parts.map(Number);
}

/** `[::ffff:a9fe:a9fe]` → its eight 16-bit groups; undefined when not a bracketed IPv6 literal. */
function ipv6Groups(host: string): number[] | undefined {
  if (!host.startsWith('[') || !host.endsWith(']')) return undefined;
  const [head = '', tail] = host.slice(1, -1).split('::');
  const read = (text: string) =>
    text === '' ? [] : text.split(':').map((group) => Number.parseInt(group, 16));
  const start = read(head);
  const end = tail === undefined ? [] : read(tail);
  const groups = [...start, ...new Array(8 - start.length - end.length).fill(0), ...end];
  return groups.length === 8 && groups.every((group) => Number.isInteger(group)) ? groups : undefined;
}

function ipv4Kind(octets: readonly number[]): ServiceKind | undefined {
  const [a, b] = octets;
  if (a === 127 || a === 0) return 'loopback'; // 0.0.0.0 reaches the local host on Linux
  if (a === 169 && b === 254) return 'link-local';
  if (octets.join('.') === ALIBABA_METADATA) return 'link-local';
  return undefined;
}

// The first 96 bits of IPv6 ranges whose last 32 bits are an IPv4 address the packet ends up at:
// mapped (::ffff:0:0/96), compatible (::/96), translated (::ffff:0:0:0/96), NAT64 (64:ff9b::/96).
const IPV4_CARRIERS = new Set(['0:0:0:0:0:ffff', '0:0:0:0:0:0', '0:0:0:0:ffff:0', '64:ff9b:0:0:0:0']);
const AWS_METADATA_V6 = 'fd00:ec2:0:0:0:0:0:254';

function ipv6Kind(groups: readonly number[]): ServiceKind | undefined {
  const hex = groups.map((group) => group.toString(16));
  const address = hex.join(':');
  if (address === '0:0:0:0:0:0:0:0' || address === '0:0:0:0:0:0:0:1') return 'loopback'; // :: and ::1
  if (((groups[0] ?? 0) & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if (address === AWS_METADATA_V6) return 'link-local';
  if (!IPV4_CARRIERS.has(hex.slice(0, 6).join(':'))) return undefined;
  const [high = 0, low = 0] = groups.slice(6);
  return ipv4Kind([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function nameKind(host: string): ServiceKind | undefined {
  if (LOOPBACK_NAMES.has(host) || host.endsWith('.localhost')) return 'loopback';
  if (METADATA_NAMES.has(host)) return 'link-local';
  return undefined;
}

/** The refused kind a URL host belongs to, if any. */
function hostKind(host: string): ServiceKind | undefined {
  const octets = ipv4Octets(host);
  if (octets) return ipv4Kind(octets);
  const groups = ipv6Groups(host);
  if (groups) return ipv6Kind(groups);
  return nameKind(host);
}

function ownNames(container: OwnContainer): Set<string> {
  const names = new Set([container.name.replace(/^\//, '').toLowerCase()]);
  for (const network of Object.values(container.networks)) {
    for (const alias of network.aliases) names.add(alias.toLowerCase());
    const address = network.ipAddress && canonicalHost(`http://${network.ipAddress}`);
    if (address) names.add(address);
  }
  names.delete('');
  return names;
}

/**
 * May a key with `policy` publish this service from `container`? Refuses the kinds of
 * `SERVICE_KINDS` the policy does not allow, then, for a `containerOnly` policy, any URL service
 * whose host is not one of the container's own names and addresses. Anything that cannot be
 * read as a URL is refused (fail closed).
 */
export function checkServicePolicy(
  route: ServiceToCheck,
  policy: ServicePolicy,
  container?: OwnContainer,
): ServiceVerdict {
  const allows = (kind: ServiceKind) => policy.allow.includes(kind);
  if (route.originRequest.proxyType === 'socks' && !allows('socks')) return refused('socks', 'it');
  if (route.originRequest.bastionMode === true && !allows('bastion')) return refused('bastion', 'it');
  const service = route.service.trim().toLowerCase();
  if (service === 'bastion') return allows('bastion') ? { allowed: true } : refused('bastion', 'it');
  if (/^unix(\+tls)?:/.test(service)) return allows('unix') ? { allowed: true } : refused('unix', 'it');
  if (service === 'hello_world' || service.startsWith('http_status:')) return { allowed: true };
  const host = canonicalHost(service);
  if (host === undefined || host === '') {
    return { allowed: false, rule: 'unreadable', reason: 'is refused: it cannot be read as a URL' };
  }
  const kind = hostKind(host);
  if (kind && !allows(kind)) return refused(kind, `its host ${host}`);
  if (policy.containerOnly) {
    const names = container ? ownNames(container) : new Set<string>();
    if (!names.has(host)) {
      const shown = [...names].slice(0, 8).join(', ') || 'none reported';
      return {
        allowed: false,
        rule: 'container-only',
        reason: `is refused by the key's service policy: its host ${host} is not this container, and the key may publish only its containers' own names and addresses (rule "container-only"; this container: ${shown})`,
      };
    }
  }
  return { allowed: true };
}
