import Cloudflare from 'cloudflare';
import { type BudgetLanes, createBudgetLanes, type LaneTicket, laneFetchOptions } from './budget-lanes.js';
import {
  type CallBudget,
  type CallBudgetOptions,
  createCallBudget,
  type RetryOptions,
} from './call-budget.js';
import { InvalidCredentialsConfigError, toLayerError, ZoneNotFoundError } from './errors.js';
import { listAll } from './pagination.js';

interface CloudflareTokenConfig {
  token: string;
  /** Zones (apex names) this token is meant for; hostnames under them use it. */
  zones: string[];
  /** Shown in logs and errors instead of the secret. */
  name?: string;
}

export interface CloudflareConfig {
  tokens: CloudflareTokenConfig[];
  /** Used for hostnames under no configured zone and for account-level calls (tunnels, Access). */
  defaultToken: string;
  accountId: string;
  /** API root; the emulator's URL in tests. */
  baseURL?: string;
  budget?: CallBudgetOptions;
  retry?: RetryOptions;
  /** A zone lookup that misses re-lists the token's zones at most this often. */
  zoneRefreshMs?: number;
}

export interface TokenHandle {
  readonly name: string;
  readonly client: Cloudflare;
  readonly budget: CallBudget;
}

export interface ResolvedZone {
  zoneId: string;
  zoneName: string;
  token: TokenHandle;
}

export interface Credentials {
  readonly accountId: string;
  readonly retry: RetryOptions;
  /** The token for account-level resources. */
  account(): TokenHandle;
  /** The token a hostname uses: longest configured zone match (or the named zone), else default. */
  tokenFor(hostname: string, zone?: string): TokenHandle;
  /** Zone of a hostname: longest zone name, among those the chosen token can see, that suffixes it. */
  resolveZone(hostname: string, zone?: string): Promise<ResolvedZone>;
  /** Drops cached zone lists (all tokens, or one by name). */
  invalidateZones(tokenName?: string): void;
  handles(): TokenHandle[];
  /** The lanes every token's budget serves calls by (changes before drift checks). */
  readonly lanes: BudgetLanes;
  /** The same credentials with every call made for `ticket` (in its lane, counted on it). */
  inLane(ticket: LaneTicket): Credentials;
}

// The SDK's own timer would run while a request waits in the budget queue; the per-request
// timeout lives in the budget's fetch instead, so the SDK's is set to the largest timer Node allows.
const MAX_TIMER_MS = 2 ** 31 - 1;

export function normalizeHostname(hostname: string): string {
  return hostname.trim().toLowerCase().replace(/\.$/, '');
}

function isUnder(hostname: string, zone: string): boolean {
  return hostname === zone || hostname.endsWith(`.${zone}`);
}

function longestZone(hostname: string, zones: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const zone of zones) {
    if (isUnder(hostname, zone) && (best === undefined || zone.length > best.length)) best = zone;
  }
  return best;
}

export function createCredentials(config: CloudflareConfig): Credentials {
  if (!config.defaultToken) throw new InvalidCredentialsConfigError('defaultToken is required');
  if (!config.accountId) throw new InvalidCredentialsConfigError('accountId is required');
  const retry = config.retry ?? {};
  const zoneRefreshMs = config.zoneRefreshMs ?? 30_000;
  const lanes = createBudgetLanes();

  // One client and one budget per distinct token value: two names for one secret share a limit.
  const byToken = new Map<string, TokenHandle>();
  const handleFor = (token: string, name: string): TokenHandle => {
    const existing = byToken.get(token);
    if (existing) return existing;
    const budget = createCallBudget(name, config.budget, lanes);
    const client = new Cloudflare({
      apiToken: token,
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      baseURL: config.baseURL ?? null,
      // Retries happen in the layer, not the SDK: the SDK would retry a 429 on its own timer
      // instead of pausing the whole token, and would resend a POST after a 5xx that may
      // have created the resource. Every attempt still passes through the budget's fetch.
      maxRetries: 0,
      timeout: MAX_TIMER_MS,
      fetch: budget.fetch,
      logLevel: 'off',
    });
    const handle = { name, client, budget };
    byToken.set(token, handle);
    return handle;
  };

  const zoneOwners = new Map<string, TokenHandle>();
  config.tokens.forEach((entry, index) => {
    if (!entry.token) throw new InvalidCredentialsConfigError(`tokens[${index}].token is empty`);
    const handle = handleFor(entry.token, entry.name ?? `token-${index + 1}`);
    for (const rawZone of entry.zones) {
      const zone = normalizeHostname(rawZone);
      const other = zoneOwners.get(zone);
      if (other && other !== handle) {
        throw new InvalidCredentialsConfigError(
          `zone "${zone}" is listed for two tokens ("${other.name}" and "${handle.name}")`,
        );
      }
      zoneOwners.set(zone, handle);
    }
  });
  const defaultHandle = handleFor(config.defaultToken, 'default');

  const rootTokenFor = (hostname: string, zone?: string): TokenHandle => {
    const key = zone ? normalizeHostname(zone) : longestZone(normalizeHostname(hostname), zoneOwners.keys());
    return (key && zoneOwners.get(key)) || defaultHandle;
  };

  interface ZoneList {
    fetchedAt: number;
    zones: Promise<Map<string, string>>;
  }
  /** By token name: shared by every lane's view of the tokens. */
  const zoneLists = new Map<string, ZoneList>();

  /** The credentials with each token's handle as `lane` gives it (its client bound to a ticket). */
  const credentialsIn = (lane: (handle: TokenHandle) => TokenHandle): Credentials => {
    const tokenFor = (hostname: string, zone?: string) => lane(rootTokenFor(hostname, zone));

    const loadZones = (handle: TokenHandle): ZoneList => {
      const zones = listAll(() => handle.client.zones.list({ per_page: 50 }), retry)
        .then((list) => new Map(list.map((z) => [normalizeHostname(z.name), z.id])))
        .catch((err: unknown) => {
          zoneLists.delete(handle.name);
          throw toLayerError(err, handle.name, 'list zones');
        });
      const entry = { fetchedAt: Date.now(), zones };
      zoneLists.set(handle.name, entry);
      return entry;
    };

    const resolveZone = async (rawHostname: string, zone?: string): Promise<ResolvedZone> => {
      const hostname = normalizeHostname(rawHostname);
      const wanted = zone ? normalizeHostname(zone) : undefined;
      if (wanted && !isUnder(hostname.replace(/^\*\./, ''), wanted)) {
        throw new ZoneNotFoundError(
          rawHostname,
          tokenFor(hostname, zone).name,
          `it is not under zone "${wanted}"`,
        );
      }
      const handle = tokenFor(hostname, zone);
      let list = zoneLists.get(handle.name) ?? loadZones(handle);
      for (let refreshed = false; ; refreshed = true) {
        const zones = await list.zones;
        const name = wanted ?? longestZone(hostname, zones.keys());
        const id = name === undefined ? undefined : zones.get(name);
        if (name !== undefined && id !== undefined) return { zoneId: id, zoneName: name, token: handle };
        // The zone may have been added since the list was read: re-list once, but not in a loop.
        if (refreshed || Date.now() - list.fetchedAt < zoneRefreshMs) {
          const visible = [...zones.keys()].sort().join(', ') || 'none';
          const what = wanted ? `zone "${wanted}" is not visible` : 'no visible zone suffixes it';
          throw new ZoneNotFoundError(rawHostname, handle.name, `${what} (the token sees: ${visible})`);
        }
        list = loadZones(handle);
      }
    };

    return {
      accountId: config.accountId,
      retry,
      account: () => lane(defaultHandle),
      tokenFor,
      resolveZone,
      invalidateZones: (tokenName) => {
        for (const name of [...zoneLists.keys()]) {
          if (tokenName === undefined || name === tokenName) zoneLists.delete(name);
        }
      },
      handles: () => [...new Set(byToken.values())].map(lane),
      lanes,
      inLane: (ticket) => credentialsIn(ticketClients(ticket)),
    };
  };

  return credentialsIn((handle) => handle);
}

/**
 * Handles whose clients make every call for `ticket`, made when first asked for (a client costs
 * about half a millisecond to build, and most units of work use one token).
 */
function ticketClients(ticket: LaneTicket): (handle: TokenHandle) => TokenHandle {
  const made = new Map<TokenHandle, TokenHandle>();
  return (handle) => {
    let bound = made.get(handle);
    if (!bound) {
      bound = {
        name: handle.name,
        budget: handle.budget,
        client: handle.client.withOptions({ fetchOptions: laneFetchOptions(ticket) }),
      };
      made.set(handle, bound);
    }
    return bound;
  };
}
