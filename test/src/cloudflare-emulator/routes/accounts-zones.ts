import { paginate } from '../pagination.js';
import { type Route, route } from '../router.js';
import { requireAccount, requireZone, visibleZones } from '../scopes.js';
import type { Account, EmulatorState, Zone } from '../state.js';
import type { RouteDeps } from './route-deps.js';

function accountView(account: Account): Record<string, unknown> {
  return {
    id: account.id,
    name: account.name,
    type: 'standard',
    created_on: account.created_on,
    settings: { enforce_twofactor: false, abuse_contact_email: '' },
  };
}

function zoneView(state: EmulatorState, zone: Zone): Record<string, unknown> {
  const account = state.accounts.get(zone.accountId);
  return {
    id: zone.id,
    name: zone.name,
    status: zone.status,
    paused: false,
    type: 'full',
    development_mode: 0,
    name_servers: ['ada.ns.cloudflare.com', 'bob.ns.cloudflare.com'],
    original_name_servers: null,
    original_registrar: null,
    original_dnshost: null,
    created_on: zone.created_on,
    modified_on: zone.modified_on,
    activated_on: zone.status === 'active' ? zone.created_on : null,
    account: { id: zone.accountId, name: account?.name ?? '' },
    owner: { id: zone.accountId, type: 'organization', name: account?.name ?? '' },
    meta: { step: 2, custom_certificate_quota: 0, page_rule_quota: 3, phishing_detected: false },
    permissions: ['#dns_records:edit', '#dns_records:read', '#zone:read'],
    // Free plan: the DNS comment limit (100 characters) and the tag ban follow from it.
    plan: {
      id: '0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee',
      name: 'Free Website',
      price: 0,
      currency: 'USD',
      frequency: '',
      is_subscribed: false,
      can_subscribe: false,
      legacy_id: 'free',
      legacy_discount: false,
      externally_managed: false,
    },
  };
}

function matches(query: URLSearchParams, key: string, value: string): boolean {
  const wanted = query.get(key);
  return wanted === null || wanted === '' || wanted.toLowerCase() === value.toLowerCase();
}

export function accountAndZoneRoutes({ state }: RouteDeps): Route[] {
  return [
    route('GET', '/accounts', (req) => {
      const accounts = [...state.accounts.values()]
        .filter((account) => req.token.accountIds.has(account.id))
        .filter((account) => matches(req.query, 'name', account.name))
        .sort((a, b) => (req.query.get('direction') === 'desc' ? -1 : 1) * a.name.localeCompare(b.name));
      const page = paginate(accounts.map(accountView), req.query, { defaultPerPage: 20, maxPerPage: 50 });
      return { result: page.result, resultInfo: page.resultInfo };
    }),
    route('GET', '/accounts/:account_id', (req) => ({
      result: accountView(requireAccount(state, req.token, req.params.account_id!, req.path)),
    })),
    route('GET', '/zones', (req) => {
      const accountName = req.query.get('account.name');
      const zones = visibleZones(state, req.token)
        .filter((zone) => matches(req.query, 'name', zone.name))
        .filter((zone) => matches(req.query, 'status', zone.status))
        .filter((zone) => matches(req.query, 'account.id', zone.accountId))
        .filter((zone) => !accountName || state.accounts.get(zone.accountId)?.name === accountName)
        .sort((a, b) => (req.query.get('direction') === 'desc' ? -1 : 1) * a.name.localeCompare(b.name));
      const page = paginate(zones, req.query, { defaultPerPage: 20, maxPerPage: 50 });
      return { result: page.result.map((zone) => zoneView(state, zone)), resultInfo: page.resultInfo };
    }),
    route('GET', '/zones/:zone_id', (req) => ({
      result: zoneView(state, requireZone(state, req.token, req.params.zone_id!, req.path)),
    })),
    route('GET', '/user/tokens/verify', (req) => ({
      result: { id: req.token.id, status: 'active' },
    })),
    route('GET', '/accounts/:account_id/tokens/verify', (req) => {
      requireAccount(state, req.token, req.params.account_id!, req.path);
      return { result: { id: req.token.id, status: 'active' } };
    }),
  ];
}
