import { createKeyedMutex, type Logger } from '@tunnelfleet/common';
import type { AlertSink } from '../alerts/alert-sink.js';
import { type AccessSyncInput, type AccessSyncResult, syncAccessApps } from './access.js';
import type { BudgetLanes, LaneTicket } from './budget-lanes.js';
import type { BudgetState, CallCounters } from './call-budget.js';
import {
  type CloudflareConfig,
  type Credentials,
  createCredentials,
  type ResolvedZone,
} from './cloudflare-credentials.js';
import {
  type DnsOptions,
  type DnsSyncInput,
  type DnsSyncResult,
  syncDnsOwners,
  syncDnsRecords,
} from './dns.js';
import { type DnsName, overwriteDnsRecord, readDnsName } from './dns-adoption.js';
import type { TunnelCname } from './dns-plan.js';
import { toLayerError } from './errors.js';
import type { IngressRule } from './ingress.js';
import {
  readTunnelIngress,
  syncTunnelIngress,
  type TunnelIngressSyncInput,
  type TunnelIngressSyncResult,
} from './tunnel-ingress-sync.js';
import { createTunnels, type Tunnels } from './tunnels.js';

export interface CloudflareLayerConfig extends CloudflareConfig {
  dns?: DnsOptions;
  /** How long a token check is reused (default 60 s). */
  tokenCheckTtlMs?: number;
}

/** `/readyz` is unauthenticated: one verify call per probe would let anyone drain the budget. */
const TOKEN_CHECK_TTL_MS = 60_000;

interface TokenCheck {
  name: string;
  ok: boolean;
  message: string;
}

/** What makes Cloudflare calls: the same for every lane, in `CloudflareLayer.inLane`. */
export interface CloudflareOperations {
  tunnels: Tunnels;
  syncTunnelIngress(input: TunnelIngressSyncInput): Promise<TunnelIngressSyncResult>;
  syncDnsRecords(input: DnsSyncInput): Promise<DnsSyncResult>;
  /**
   * Several owners' records in one pass: one read per zone, their changes batched together. The
   * caller runs one at a time per zone (the reconciler's zone sync does). With `names`, only
   * those hostnames are read and synced (a change's), whatever else the zone holds.
   */
  syncDnsOwners(inputs: readonly DnsSyncInput[], names?: ReadonlySet<string>): Promise<DnsSyncResult[]>;
  syncAccessApps(input: AccessSyncInput): Promise<AccessSyncResult>;
  /** Every record on one name, read afresh (an operator's diff before adopting a foreign record). */
  readDnsName(hostname: string, zone?: string): Promise<DnsName>;
  /** A tunnel's ingress rules, read afresh (an operator's diff before adopting a foreign rule). */
  readTunnelIngress(tunnelId: string): Promise<IngressRule[]>;
  /** Writes our CNAME over a record an operator adopted, keeping its id. */
  overwriteDnsRecord(target: {
    hostname: string;
    zone?: string;
    recordId: string;
    record: TunnelCname;
  }): Promise<void>;
  resolveZone(hostname: string, zone?: string): Promise<ResolvedZone>;
}

/** The layer's own calls are changes (`budget-lanes.ts`); `inLane` and `enrolment` make others. */
export interface CloudflareLayer extends CloudflareOperations {
  /**
   * The operations with every call made for `ticket`: in its lane, and counted on it. The syncs
   * of one tunnel, DNS owner or Access scope still run one at a time across lanes.
   */
  inLane(ticket: LaneTicket): CloudflareOperations;
  /** The operations in the enrolment lane: a host's tunnel and token as it is provisioned. */
  readonly enrolment: CloudflareOperations;
  invalidateZones(tokenName?: string): void;
  /**
   * Whether each configured token is valid and active. Cloudflare is asked at most once per TTL,
   * and callers that come while a check runs share it.
   */
  verifyTokens(): Promise<TokenCheck[]>;
  /** Calls per token name, by result (for metrics). */
  callCounters(): Record<string, CallCounters>;
  /** Each token's budget now: calls in the window and the backlog, by lane. */
  budgets(): BudgetState[];
  /** Promotes a ticket whose work a change now waits for. */
  readonly lanes: BudgetLanes;
  /** Name of the token a zone's calls are counted against; without a zone, account-level calls'. */
  tokenOfZone(zoneName?: string): string;
}

/**
 * The master's one door to Cloudflare. Syncs of the same tunnel, DNS owner or Access scope run
 * one after the other (each is read-merge-write, so two at once could undo each other).
 */
export function createCloudflareLayer(
  config: CloudflareLayerConfig,
  logger: Logger,
  alerts?: AlertSink,
): CloudflareLayer {
  const log = logger.child({ component: 'cloudflare' });
  // Alerts name a token by `tokenName`: the alert service scrubs any field called `token`, which
  // would leave the operator not knowing which budget ran out.
  const rootCreds = createCredentials({
    ...config,
    budget: {
      ...config.budget,
      onQueueFull: ({ token, queued }) => {
        log.warn(
          { token, queued },
          'Cloudflare call budget queue is full: further calls are refused until it drains',
        );
        alerts?.emit('cloudflare.budget_exhausted', { tokenName: token, queued, reason: 'queue_full' });
      },
      onPaused: ({ token, retryAfterMs, queued }) => {
        // Cloudflare counts every caller of the token (the dashboard, other tools): a 429 says the
        // budget is gone whatever our own count says. Calls wait, none is dropped.
        log.warn(
          { token, retryAfterMs, queued },
          'Cloudflare answered 429: the token pauses for Retry-After',
        );
        alerts?.emit('cloudflare.budget_exhausted', {
          tokenName: token,
          queued,
          retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
          reason: 'rate_limited',
        });
      },
    },
  });
  const mutex = createKeyedMutex();

  /** The operations over `credentials` (the tokens as one lane sees them), sharing the mutex. */
  const operationsIn = (creds: Credentials): CloudflareOperations => {
    let tunnels: Tunnels | undefined;
    return {
      // Made when first used: a drift check of a zone never needs the account's client.
      get tunnels() {
        tunnels ??= createTunnels(creds);
        return tunnels;
      },
      syncTunnelIngress: (input) =>
        mutex.run(`ingress:${input.tunnelId}`, async () => {
          const result = await syncTunnelIngress(creds, input);
          log.info(
            {
              tunnelId: input.tunnelId,
              changed: result.changed,
              version: result.version,
              rules: result.ownedKeys.length,
              conflicts: result.conflicts,
              shadowed: result.shadowed,
              rejected: result.rejected,
            },
            'tunnel ingress synced',
          );
          return result;
        }),
      syncDnsRecords: (input) =>
        mutex.run(`dns:${input.owner}`, async () => {
          const result = await syncDnsRecords(creds, input, config.dns);
          const problems = Object.entries(result.hostnames).filter(([, r]) => r.status !== 'ok');
          log.info(
            { owner: input.owner, records: result.owned.length, deleted: result.deleted.length, problems },
            'DNS records synced',
          );
          return result;
        }),
      syncDnsOwners: async (inputs, names) => {
        const results = await syncDnsOwners(creds, inputs, config.dns, names);
        log.info(
          {
            owners: inputs.length,
            ...(names ? { names: names.size } : {}),
            records: results.reduce((n, r) => n + r.owned.length, 0),
            deleted: results.reduce((n, r) => n + r.deleted.length, 0),
          },
          'DNS records synced',
        );
        return results;
      },
      syncAccessApps: (input) =>
        mutex.run('access', async () => {
          const result = await syncAccessApps(creds, input);
          log.info(
            { apps: result.ownedAppIds.length, deleted: result.deletedAppIds.length },
            'Access applications synced',
          );
          return result;
        }),
      readDnsName: (hostname, zone) => readDnsName(creds, hostname, zone),
      readTunnelIngress: (tunnelId) => readTunnelIngress(creds, tunnelId),
      overwriteDnsRecord: async (target) => {
        await overwriteDnsRecord(creds, target);
        log.info({ hostname: target.hostname, recordId: target.recordId }, 'adopted DNS record overwritten');
      },
      resolveZone: (hostname, zone) => creds.resolveZone(hostname, zone),
    };
  };

  return {
    ...operationsIn(rootCreds),
    inLane: (ticket) => operationsIn(rootCreds.inLane(ticket)),
    enrolment: operationsIn(rootCreds.inLane({ lane: 'enrol' })),
    invalidateZones: (tokenName) => rootCreds.invalidateZones(tokenName),
    verifyTokens: createTokenVerifier(rootCreds, config.tokenCheckTtlMs ?? TOKEN_CHECK_TTL_MS, alerts),
    callCounters: () => Object.fromEntries(rootCreds.handles().map((h) => [h.name, h.budget.counters()])),
    budgets: () => rootCreds.handles().map((h) => h.budget.state()),
    lanes: rootCreds.lanes,
    tokenOfZone: (zoneName) =>
      zoneName === undefined ? rootCreds.account().name : rootCreds.tokenFor(zoneName, zoneName).name,
  };
}

function createTokenVerifier(
  creds: Credentials,
  ttlMs: number,
  alerts: AlertSink | undefined,
): () => Promise<TokenCheck[]> {
  // Tokens whose last check failed: a token alerts when it starts failing, not at every check.
  const failing = new Set<string>();
  const alertOnChange = (checks: TokenCheck[]) => {
    for (const check of checks) {
      if (!check.ok && !failing.has(check.name)) {
        failing.add(check.name);
        alerts?.emit('cloudflare.token_failed', { tokenName: check.name, message: check.message });
      } else if (check.ok) failing.delete(check.name);
    }
    return checks;
  };
  const verifyAll = () =>
    Promise.all(
      creds.handles().map(async (handle) => {
        try {
          const reply = await handle.client.user.tokens.verify();
          return { name: handle.name, ok: reply.status === 'active', message: `token is ${reply.status}` };
        } catch (err) {
          return {
            name: handle.name,
            ok: false,
            message: toLayerError(err, handle.name, 'verify token').message,
          };
        }
      }),
    ).then(alertOnChange);
  let current: Promise<TokenCheck[]> | undefined;
  let settledAt = Number.NEGATIVE_INFINITY;
  return () => {
    // One check in flight at a time, shared by every caller, and its result kept for the TTL
    // after it settles. A check never rejects (failures are results), so nothing poisons it.
    const inFlight = current !== undefined && settledAt === Number.NEGATIVE_INFINITY;
    if (!current || (!inFlight && Date.now() - settledAt >= ttlMs)) {
      settledAt = Number.NEGATIVE_INFINITY;
      const check = verifyAll();
      current = check;
      void check.then(() => {
        if (current === check) settledAt = Date.now();
      });
    }
    return current;
  };
}
