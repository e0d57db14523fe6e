import type { GatewayL7 } from '../gateway/routing-table.js';
import type { WakeSchedule } from '../gateway/wake-schedule.js';
import type { LabelPrefixes } from './label-prefixes.js';
import type { OwnContainer, ServicePolicy } from './service-policy.js';

/** Which label language a route was read from. */
export type LabelSource = 'tunnelfleet' | 'dockflare' | 'labelgate' | 'dag';

export interface LabelProblem {
  /** An error makes the route it belongs to invalid; a warning never does. */
  severity: 'error' | 'warning';
  /** The label key the problem is about (truncated when hostile). */
  label: string;
  /** The offending value, truncated to a printable length. */
  value?: string;
  /** Names the label, the value and the reason. */
  message: string;
  /** Key of the route the problem belongs to; absent for container-level problems. */
  route?: string;
}

/** One cloudflared ingress `ipRules` entry (Cloudflare API shape). */
export interface OriginIpRule {
  prefix: string;
  ports: number[];
  allow: boolean;
}

/** cloudflared `originRequest.access`: validate the Cf-Access-Jwt-Assertion header. */
export interface OriginAccess {
  required?: boolean;
  teamName: string;
  audTag: string[];
}

/**
 * cloudflared `originRequest`, with the keys and value shapes of the Cloudflare tunnel
 * configuration API: durations are integer seconds.
 */
export interface OriginRequest {
  connectTimeout?: number;
  tlsTimeout?: number;
  tcpKeepAlive?: number;
  noHappyEyeballs?: boolean;
  keepAliveConnections?: number;
  keepAliveTimeout?: number;
  httpHostHeader?: string;
  originServerName?: string;
  matchSNItoHost?: boolean;
  caPool?: string;
  noTLSVerify?: boolean;
  disableChunkedEncoding?: boolean;
  bastionMode?: boolean;
  proxyAddress?: string;
  proxyPort?: number;
  proxyType?: '' | 'socks';
  http2Origin?: boolean;
  ipRules?: OriginIpRule[];
  access?: OriginAccess;
}

/** Cloudflare Access policy decision (API values). */
export type AccessDecision = 'allow' | 'deny' | 'bypass' | 'non_identity';

/** One Cloudflare Access rule, in the API's shape. */
export type AccessRule =
  | { email: { email: string } }
  | { email_domain: { domain: string } }
  | { everyone: Record<string, never> }
  | { service_token: { token_id: string } }
  | { any_valid_service_token: Record<string, never> }
  | { group: { id: string } }
  | { ip: { ip: string } }
  | { geo: { country_code: string } }
  | { login_method: { id: string } }
  | { certificate: Record<string, never> };

/** A policy written in the labels themselves. */
export interface AccessPolicySpec {
  name?: string;
  decision: AccessDecision;
  include: AccessRule[];
  require: AccessRule[];
  exclude: AccessRule[];
}

/** What the labels ask of Cloudflare Access for one route's hostname. */
export interface AccessSpec {
  /** Policies defined on the master, referenced by name (also DockFlare access groups). */
  namedPolicies: string[];
  /** The policy written in the labels, if any. */
  policy?: AccessPolicySpec;
  /**
   * DockFlare's `access.policy=default_tld`: no app of its own; the route is guarded by the
   * zone's existing `*.<zone>` application and published only while that application exists.
   */
  zoneDefault?: true;
  /** DockFlare `access.custom_rules`: Access app policies passed through as written. */
  inlinePolicies?: Record<string, unknown>[];
  appName?: string;
  /** Cloudflare session duration string, e.g. `24h`, `1h30m`. */
  sessionDuration?: string;
  appLauncherVisible?: boolean;
  autoRedirectToIdentity?: boolean;
  allowedIdps?: string[];
}

/** One valid, normalized route. */
export interface ParsedRoute {
  /** Stable id within the container: `default`, `api`, `dockflare`, `dockflare.0`, `labelgate.web`. */
  key: string;
  source: LabelSource;
  /** Lower-cased public hostname. */
  hostname: string;
  /** Normalized cloudflared service (`http://web:8080`, `http_status:404`, `unix:/run/app.sock`). */
  service: string;
  /** Path regex as cloudflared matches it. */
  path?: string;
  zone?: string;
  /** Named shared tunnel instead of the agent's own. */
  tunnel?: string;
  originRequest: OriginRequest;
  /** Manage the DNS record. */
  dns: boolean;
  /** Remove cloud resources after the grace period. */
  cleanup: boolean;
  access?: AccessSpec;
  /**
   * `access.public=true`: the route is public on purpose. Without it, a change that drops the
   * Access of a route that is published is refused (see docs/access.md).
   */
  public?: true;
  /** Wake on request, carried out by the host's L7 gateway (docs/gateway.md). */
  wake?: WakeSpec;
  /**
   * Routing beyond hostname and path (`match.*`, `weight`, `filter.*`, `mirror`), carried out by
   * the host's L7 gateway: exactly the gateway route's fields of the same names, to be spread
   * into it.
   */
  l7?: GatewayL7;
}

/** Wake on request (`tunnelfleet.wake=true`): the container sleeps until a request comes. */
export interface WakeSpec {
  /** How long a start may take before the loading page shows an error. */
  startTimeoutSeconds: number;
  /** Stop after this long without a request; 0: never. */
  idleTimeoutSeconds: number;
  /** Containers on the same host started first, in this order. */
  dependsOn: string[];
  /** Probed with GET (2xx is ready); unset: a TCP connect to the service's port. */
  healthPath?: string;
  /** Where the loading page sends the browser once ready. */
  redirectPath: string;
  /** Start and stop times (`schedule.start`, `schedule.stop`, `schedule.timezone`), done by the agent. */
  schedule?: WakeSchedule;
}

/** A route the labels describe but that has at least one error. */
export interface InvalidRoute {
  key: string;
  source: LabelSource;
  /** The normalized hostname when it is valid, else the raw value when there is one. */
  hostname?: string;
  /** The route's errors (and warnings). */
  problems: LabelProblem[];
}

export interface LabelParseResult {
  /** True when a label language switched the container on (and `tunnelfleet.enable` did not switch it off). */
  enabled: boolean;
  routes: ParsedRoute[];
  invalidRoutes: InvalidRoute[];
  /** Every problem: container-level ones and those of every route (with `route` set). */
  problems: LabelProblem[];
}

export interface LabelParseContext {
  /** Container name (a leading `/` as in `docker inspect` is dropped). */
  containerName?: string;
  /** Ports the container exposes, used to complete a service that names none. */
  exposedPorts?: number[];
  /**
   * The agent key's service policy: a route whose service it refuses is invalid. The master and
   * `labels check` always pass one; without it only the labels' syntax is checked (the agent's
   * own log, which cannot know its key's policy).
   */
  servicePolicy?: ServicePolicy;
  /** The container's networks as reported, for a `containerOnly` service policy. */
  networks?: OwnContainer['networks'];
  /**
   * `REQUIRE_ACCESS` of the master (`labels check --require-access`): a route with no Access that
   * is not marked `access.public=true` is invalid.
   */
  requireAccess?: boolean;
  /**
   * The host's custom DockFlare and Labelgate prefixes (normalized by `checkLabelPrefixes`), as
   * its agent registered them.
   */
  labelPrefixes?: LabelPrefixes;
}
