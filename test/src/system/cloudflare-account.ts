import type { CloudflareEmulator } from '../cloudflare-emulator/index.js';

/** What the master is configured with: an account, its zones and one API token for all of them. */
export interface CloudflareAccount {
  /** API base URL (`…/client/v4`). */
  baseUrl: string;
  accountId: string;
  /** Secret: the secret scan looks for it in the logs. */
  apiToken: string;
  /** zone name → zone id */
  zones: Record<string, string>;
}

export function createCloudflareAccount(
  emulator: CloudflareEmulator,
  zoneNames: readonly string[],
): CloudflareAccount {
  const account = emulator.createAccount('tunnelfleet-e2e');
  const zones = Object.fromEntries(zoneNames.map((name) => [name, emulator.createZone(name, account.id).id]));
  const apiToken = emulator.createToken({
    accountIds: [account.id],
    zoneNames: 'all',
    name: 'tunnelfleet-master',
  });
  return { baseUrl: emulator.baseUrl, accountId: account.id, apiToken, zones };
}
