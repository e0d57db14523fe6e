import { createHash } from 'node:crypto';
import type { CloudflaredSettings } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { MANAGED_LABEL } from '../docker/label-match.js';

/** Labels that mark the managed cloudflared container and describe what it runs. */
export const CLOUDFLARED_LABELS = {
  managed: MANAGED_LABEL,
  agentId: 'tunnelfleet.agent-id',
  tunnelId: 'tunnelfleet.tunnel-id',
  /** Lets a token change be detected without reading the container's environment. */
  tokenHash: 'tunnelfleet.token-hash',
  image: 'tunnelfleet.image',
  /** Hash of everything the container was created from: a different one means replace it. */
  specHash: 'tunnelfleet.spec-hash',
  /** On a shared tunnel's connector only: that tunnel's id. The agent's own cloudflared has none. */
  sharedTunnel: 'tunnelfleet.shared-tunnel',
} as const;
const MANAGED_CLOUDFLARED = 'cloudflared';
/** cloudflared's own default for `--grace-period`: how long it lets in-flight requests finish. */
export const DEFAULT_GRACE_PERIOD_SECONDS = 30;
/** Beyond the grace period: cloudflared's own shutdown after the last request, and tini's. */
const STOP_MARGIN_SECONDS = 5;

export interface CloudflaredSpecInput {
  agentId: string;
  tunnelId: string;
  token: string;
  image: string;
  network: string;
  /** Network only the agent and cloudflared share, where its metrics server listens. */
  metricsNetwork: string;
  metricsPort: number;
  settings?: CloudflaredSettings;
  /** Set for a shared tunnel's connector, which runs beside the agent's own cloudflared. */
  sharedTunnelId?: string;
}

export interface CloudflaredSpec {
  name: string;
  specHash: string;
  tokenHash: string;
  network: string;
  metricsNetwork: string;
  /**
   * cloudflared's name on `metricsNetwork` only. `--metrics <alias>:<port>` makes cloudflared
   * resolve it at start and listen on that network's address alone: its metrics, `/config` (every
   * ingress rule of the tunnel) and pprof are out of reach of the published containers that share
   * `network`. Connect the container with this alias before starting it.
   */
  metricsAlias: string;
  metricsPort: number;
  /** What Docker waits after SIGTERM before SIGKILL: the grace period plus a margin. */
  stopTimeoutSeconds: number;
  createOptions: Docker.ContainerCreateOptions;
}

function shortHash(value: string, length: number): string {
  return createHash('sha256').update(value).digest('hex').slice(0, length);
}

/**
 * The internal network of cloudflared's metrics: the shared network's name with `-metrics`, so
 * that agents on one engine with different `CLOUDFLARED_NETWORK`s keep apart, and
 * docker-compose.agent.yml can name it without another setting.
 */
export function cloudflaredMetricsNetwork(network: string): string {
  return `${network}-metrics`;
}

/** Short and one-way: enough to tell tokens apart, useless to recover one. */
export function tokenHash(token: string): string {
  return shortHash(token, 16);
}

/**
 * Agent ids may hold characters Docker refuses in names; a hash keeps the name valid and stable. A
 * shared tunnel's connector gets its own name beside the agent's cloudflared.
 */
export function cloudflaredContainerName(agentId: string, sharedTunnelId?: string): string {
  return `tunnelfleet-cloudflared-${shortHash(agentId, 12)}${connectorSuffix(sharedTunnelId)}`;
}

const connectorSuffix = (sharedTunnelId: string | undefined) =>
  sharedTunnelId === undefined ? '' : `-shared-${shortHash(sharedTunnelId.toLowerCase(), 12)}`;

/** Whether a managed container is the connector this supervisor runs (its own, or one shared tunnel's). */
export function isConnectorOf(labels: Record<string, string>, sharedTunnelId: string | undefined): boolean {
  const shared = labels[CLOUDFLARED_LABELS.sharedTunnel];
  return sharedTunnelId === undefined
    ? shared === undefined
    : shared?.toLowerCase() === sharedTunnelId.toLowerCase();
}

/** Labels selecting this agent's managed cloudflared containers (Docker ANDs them). */
export function managedLabelFilter(agentId: string): string[] {
  return [`${CLOUDFLARED_LABELS.managed}=${MANAGED_CLOUDFLARED}`, `${CLOUDFLARED_LABELS.agentId}=${agentId}`];
}

export function buildCloudflaredSpec(input: CloudflaredSpecInput): CloudflaredSpec {
  const settings = input.settings ?? {};
  const network = settings.network ?? input.network;
  const { metricsNetwork } = input;
  const metricsPort = settings.metricsPort ?? input.metricsPort;
  const metricsAlias = `tunnelfleet-metrics-${shortHash(input.agentId, 12)}${connectorSuffix(input.sharedTunnelId)}`;
  const cmd = [
    'tunnel',
    '--no-autoupdate',
    '--metrics',
    `${metricsAlias}:${metricsPort}`,
    ...tunnelFlags(settings),
    ...(settings.extraArgs ?? []),
    'run',
    ...runFlags(settings),
  ];
  const stopTimeoutSeconds = Math.ceil(gracePeriodSeconds(cmd)) + STOP_MARGIN_SECONDS;
  const hashOfToken = tokenHash(input.token);
  const specHash = shortHash(
    JSON.stringify({ image: input.image, cmd, network, metricsNetwork, token: hashOfToken }),
    16,
  );
  const name = cloudflaredContainerName(input.agentId, input.sharedTunnelId);
  return {
    name,
    specHash,
    tokenHash: hashOfToken,
    network,
    metricsNetwork,
    metricsAlias,
    metricsPort,
    stopTimeoutSeconds,
    createOptions: {
      name,
      Image: input.image,
      Cmd: cmd,
      // The environment, not the command line: arguments show up in `ps` and in process listings.
      Env: [`TUNNEL_TOKEN=${input.token}`],
      // Every stop (token rotation, image update, `docker stop` by an operator) waits this long.
      StopTimeout: stopTimeoutSeconds,
      Labels: {
        [CLOUDFLARED_LABELS.managed]: MANAGED_CLOUDFLARED,
        [CLOUDFLARED_LABELS.agentId]: input.agentId,
        [CLOUDFLARED_LABELS.tunnelId]: input.tunnelId,
        [CLOUDFLARED_LABELS.tokenHash]: hashOfToken,
        [CLOUDFLARED_LABELS.image]: input.image,
        [CLOUDFLARED_LABELS.specHash]: specHash,
        ...(input.sharedTunnelId
          ? { [CLOUDFLARED_LABELS.sharedTunnel]: input.sharedTunnelId.toLowerCase() }
          : {}),
      },
      HostConfig: {
        // The supervisor restarts it with backoff and can tell a crash from an operator's stop.
        RestartPolicy: { Name: 'no' },
        Init: true,
        NetworkMode: network,
      },
    },
  };
}

/**
 * The flags of `cloudflared tunnel`, before `run`. cloudflared 2023.7.3 refuses a flag on the wrong
 * side of `run` as a usage error (real-cloudflared.test.ts holds every setting to this).
 */
function tunnelFlags(settings: CloudflaredSettings): string[] {
  return [
    ...(settings.protocol ? ['--protocol', settings.protocol] : []),
    ...(settings.logLevel ? ['--loglevel', settings.logLevel] : []),
    ...(settings.edgeIpVersion ? ['--edge-ip-version', settings.edgeIpVersion] : []),
    ...(settings.region ? ['--region', settings.region] : []),
    ...(settings.retries !== undefined ? ['--retries', String(settings.retries)] : []),
    ...(settings.gracePeriodSeconds !== undefined
      ? ['--grace-period', `${settings.gracePeriodSeconds}s`]
      : []),
  ];
}

/** The flags of `cloudflared tunnel run`, after `run`. */
function runFlags(settings: CloudflaredSettings): string[] {
  return settings.postQuantum ? ['--post-quantum'] : [];
}

/** The `--grace-period` in `args` (`--grace-period 1m` or `=1m`), else cloudflared's default. */
export function gracePeriodSeconds(args: readonly string[]): number {
  let value: string | undefined;
  args.forEach((arg, i) => {
    if (arg === '--grace-period' || arg === '-grace-period') value = args[i + 1];
    else if (/^--?grace-period=/.test(arg)) value = arg.slice(arg.indexOf('=') + 1);
  });
  return (value === undefined ? undefined : goDurationSeconds(value)) ?? DEFAULT_GRACE_PERIOD_SECONDS;
}

const GO_DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** A Go duration (`30s`, `1m30s`, `1.5h`) in seconds; undefined if it is not one. */
function goDurationSeconds(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g))
    seconds += Number(amount) * GO_DURATION_UNITS[unit!]!;
  return seconds;
}
