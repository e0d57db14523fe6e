import { apiErrors } from './errors.js';
import { isHexId } from './ids.js';
import type { Account, ApiToken, EmulatorState, Zone } from './state.js';

/** What a token may see: its accounts, and its zones inside those accounts. */
function canSeeZone(token: ApiToken, zone: Zone): boolean {
  if (!token.accountIds.has(zone.accountId)) return false;
  return token.zoneNames === 'all' || token.zoneNames.has(zone.name);
}

export function visibleZones(state: EmulatorState, token: ApiToken): Zone[] {
  return [...state.zones.values()].filter((zone) => canSeeZone(token, zone));
}

export function requireAccount(
  state: EmulatorState,
  token: ApiToken,
  accountId: string,
  path: string,
): Account {
  if (!isHexId(accountId)) throw apiErrors.invalidIdentifier(path);
  const account = state.accounts.get(accountId);
  if (!account || !token.accountIds.has(accountId)) throw apiErrors.forbidden();
  return account;
}

export function requireZone(state: EmulatorState, token: ApiToken, zoneId: string, path: string): Zone {
  if (!isHexId(zoneId)) throw apiErrors.invalidIdentifier(path);
  const zone = state.zones.get(zoneId);
  // The live API answers an unknown zone and a zone outside the token's scope alike.
  if (!zone || !canSeeZone(token, zone)) throw apiErrors.authentication(403);
  return zone;
}
