export { agentTunnelName } from './agents/agent-service.js';
export { MISSED_INTERVALS_OFFLINE } from './agents/heartbeats.js';
export { checkAgentHostname } from './agents/hostname-guard.js';
export type { MasterHooks } from './agents/ports.js';
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
export { checkHostnameAllowed, hostnameMatchesPattern } from './keys/hostname-allowlist.js';
export {
  createMaster,
  type Master,
  type MasterDeps,
  type RunningMaster,
  startMaster,
} from './master.js';
export type { MasterMetrics } from './metrics/metrics.js';
export { type AuditActor, type AuditEntryInput, recordAudit } from './store/audit-log.js';
export { openDatabase, type SqliteDatabase } from './store/database.js';
