import {
  type CloudflareEmulator,
  type CloudflareEmulatorOptions,
  startCloudflareEmulator,
} from '@tunnelfleet/test';
import { pino } from 'pino';
import type { CallBudgetOptions } from './call-budget.js';
import { type CloudflareConfig, type Credentials, createCredentials } from './cloudflare-credentials.js';
import {
  type CloudflareLayer,
  type CloudflareLayerConfig,
  createCloudflareLayer,
} from './cloudflare-layer.js';

/** For the layer's tests: an emulator with one account, zones, and an all-zones default token. */
export interface TestWorld {
  emulator: CloudflareEmulator;
  accountId: string;
  defaultToken: string;
  config(extra?: Partial<CloudflareLayerConfig>): CloudflareLayerConfig;
  layer(extra?: Partial<CloudflareLayerConfig>): CloudflareLayer;
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
    layer: (extra) => createCloudflareLayer(config(extra), pino({ level: 'silent' })),
    credentials: (extra) => createCredentials(config(extra)),
    close: () => emulator.close(),
  };
}
