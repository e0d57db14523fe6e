import {
  GATEWAY_STATUS_CLASSES,
  NotFoundError,
  parseContainerLabels,
  type RouteDetail,
  type RouteTrafficView,
} from '@tunnelfleet/common';
import { gatewayGroupsOf } from '../gateway/gateway-groups.js';
import type { RouteTraffic } from '../gateway/gateway-traffic.js';
import { wakeStateOf } from '../gateway/wake-state.js';
import { auditMentioning } from '../store/audit-log.js';
import { listContainers } from '../store/containers.js';
import type { SqliteDatabase } from '../store/database.js';
import { ownedObjectsOf } from '../store/owned-objects.js';
import { findRoute } from '../store/routes.js';

const HISTORY_ENTRIES = 50;

/**
 * A route as an operator investigates it: the labels it came from and in which tool's language,
 * the Cloudflare objects we own for it, and the audit entries that name its hostname.
 */
export function routeDetail(
  db: SqliteDatabase,
  id: number,
  now: Date,
  traffic: RouteTraffic | undefined,
): RouteDetail {
  const record = findRoute(db, id);
  if (!record) throw new NotFoundError(`no route ${id}`);
  const container = listContainers(db, record.agentId).find((c) => c.containerId === record.containerId);
  const { spec: _spec, createdAt: _created, ...rest } = record;
  const route = {
    ...rest,
    wakeState: wakeStateOf(record, container?.state),
    gatewayGroup: gatewayGroupsOf(db, [record], now).get(record.id) ?? null,
  };
  const labels = container?.labels ?? {};
  const parsed = parseContainerLabels(labels, { containerName: record.containerName });
  const language =
    [...parsed.routes, ...parsed.invalidRoutes].find((candidate) => candidate.key === record.routeKey)
      ?.source ?? null;
  const owned = record.hostname === null ? [] : ownedObjectsOf(db, record.hostname, record.path);
  return {
    route,
    labels,
    language,
    cloudflare: {
      dnsRecords: owned
        .filter((o) => o.kind === 'dns_record' && o.cfId !== null)
        .map((o) => ({ id: o.cfId!, zoneId: o.zoneId ?? '' })),
      ingressRules: owned
        .filter((o) => o.kind === 'ingress_rule' && o.tunnelId !== null)
        .map((o) => ({ tunnelId: o.tunnelId! })),
      accessApps: owned
        .filter((o) => o.kind === 'access_app' && o.cfId !== null)
        .map((o) => ({ id: o.cfId! })),
    },
    history: record.hostname === null ? [] : auditMentioning(db, record.hostname, HISTORY_ENTRIES),
    traffic: traffic ? trafficView(traffic) : null,
  };
}

function trafficView({ totals, reportedAt }: RouteTraffic): RouteTrafficView {
  return {
    requests: totals.requests.reduce((sum, n) => sum + n, 0),
    requestsByStatusClass: Object.fromEntries(
      GATEWAY_STATUS_CLASSES.map((statusClass, i) => [statusClass, totals.requests[i] ?? 0]),
    ),
    requestSeconds: totals.latency.sum,
    wakes: totals.wakes,
    wakeSeconds: totals.wakeSeconds,
    wakeTimeouts: totals.wakeTimeouts,
    idleStops: totals.idleStops,
    reportedAt,
  };
}
