import {
  type CallRecord,
  type CloudflareEmulator,
  type CloudflareEmulatorOptions,
  startCloudflareEmulator,
} from '@tunnelfleet/test';
import { pino } from 'pino';
import type { AlertSink } from '#master/alerts/alert-sink.js';
import type { CallBudgetOptions } from '#master/cloudflare/call-budget.js';
import {
  type CloudflareConfig,
  type Credentials,
  createCredentials,
} from '#master/cloudflare/cloudflare-credentials.js';
import {
  type CloudflareLayer,
  type CloudflareLayerConfig,
  createCloudflareLayer,
} from '#master/cloudflare/cloudflare-layer.js';

/** For the layer's tests: an emulator with one account, zones, and an all-zones default token. */
export interface TestWorld {
  emulator: CloudflareEmulator;
  accountId: string;
  defaultToken: string;
  config(extra?: Partial<CloudflareLayerConfig>): CloudflareLayerConfig;
  /** `alerts` receives what the layer raises (failing tokens, a full call queue). */
  layer(extra?: Partial<CloudflareLayerConfig>, alerts?: AlertSink): CloudflareLayer;
  credentials(extra?: Partial<CloudflareConfig>): Credentials;
  close(): Promise<void>;
}

export async function startTestWorld(
  zones: string[] = ['example.com'],
  options: CloudflareEmulatorOptions = {},
  budget: CallBudgetOptions = {},
): Promise<TestWorld> {
  const emulator = await startCloudflareEmulator({ validateAgainstSpec: true, ...options });
  const account = emulator.createAccount('acme');
  for (const zone of zones) emulator.createZone(zone, account.id);
  const defaultToken = emulator.createToken({ accountIds: [account.id], zoneNames: 'all', name: 'default' });
  const config = (extra: Partial<CloudflareLayerConfig> = {}): CloudflareLayerConfig => ({
    tokens: [],
    defaultToken,
    accountId: account.id,
    baseURL: emulator.baseUrl,
    // Fast retries keep the tests short; the production defaults are seconds.
    retry: { attempts: 10, baseDelayMs: 5, maxDelayMs: 100 },
    budget: { defaultRetryAfterMs: 200, ...budget },
    ...extra,
  });
  return {
    emulator,
    accountId: account.id,
    defaultToken,
    config,
    layer: (extra, alerts) => createCloudflareLayer(config(extra), pino({ level: 'silent' }), alerts),
    credentials: (extra) => createCredentials(config(extra)),
    close: () => emulator.close(),
  };
}

/** Most calls any window of `windowMs` held, by arrival time at the emulator. */
export function busiestWindow(calls: readonly CallRecord[], windowMs: number): number {
  const times = calls.map((c) => c.time).sort((a, b) => a - b);
  let best = 0;
  for (let start = 0, end = 0; start < times.length; start++) {
    while (end < times.length && times[end]! < times[start]! + windowMs) end++;
    best = Math.max(best, end - start);
  }
  return best;
}

export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
