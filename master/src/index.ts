export {
  ACCESS_APP_MARKER,
  ACCESS_POLICY_PREFIX,
  type AccessAppResult,
  type AccessAppSpec,
  type AccessDecision,
  type AccessPolicySpec,
  type AccessSyncInput,
  type AccessSyncResult,
  accessDomain,
} from './cloudflare/access.js';
export type {
  CallBudgetOptions,
  CallCounters,
  CallEvent,
  CallResult,
  RetryOptions,
} from './cloudflare/call-budget.js';
export type {
  CloudflareConfig,
  CloudflareTokenConfig,
  ResolvedZone,
} from './cloudflare/cloudflare-credentials.js';
export {
  type CloudflareLayer,
  type CloudflareLayerConfig,
  createCloudflareLayer,
  type TokenCheck,
} from './cloudflare/cloudflare-layer.js';
export {
  type DesiredDnsRecord,
  DNS_COMMENT_PREFIX,
  type DnsHostnameResult,
  type DnsOptions,
  type DnsRecordStatus,
  type DnsSyncInput,
  type DnsSyncResult,
  InvalidDnsOwnerError,
  type OwnedDnsRecord,
} from './cloudflare/dns.js';
export {
  CloudflareApiError,
  CloudflareLayerError,
  CloudflarePermissionError,
  IngressRuleLimitError,
  InvalidCredentialsConfigError,
  TunnelNotFoundError,
  ZoneNotFoundError,
} from './cloudflare/errors.js';
export {
  type DesiredIngressRule,
  type IngressRule,
  ingressKey,
  MAX_INGRESS_RULES,
} from './cloudflare/ingress.js';
export type { TunnelIngressSyncInput, TunnelIngressSyncResult } from './cloudflare/tunnel-ingress-sync.js';
export type { EnsuredTunnel, TunnelConnection, TunnelRef, Tunnels } from './cloudflare/tunnels.js';
