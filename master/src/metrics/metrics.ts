import type { CloudflareBudgetResponse } from '@tunnelfleet/common';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { HeartbeatStore } from '../agents/heartbeats.js';
import type { RouteTraffic } from '../gateway/gateway-traffic.js';
import { listAgents } from '../store/agents.js';
import type { SqliteDatabase } from '../store/database.js';
import { countRoutesByStatus } from '../store/routes.js';
import { gatewayTrafficExposition } from './gateway-traffic-exposition.js';

/** Running totals of the command gateway (`CommandGateway.stats()`). */
interface CommandTotals {
  queued: number;
  delivered: number;
  redelivered: number;
}

/** Cloudflare calls per token name, by result (`CloudflareLayer.callCounters()`). */
type CloudflareCallTotals = Record<string, Record<string, number>>;

type Mirrored = [Record<string, string>, number][];

/**
 * A metric whose values are kept by another module and read at scrape time: a counter is set to
 * that total (prom-client counters can only go up, hence reset-then-increment), a gauge to the
 * current values (labels that went away go too).
 */
function mirror(
  kind: 'counter' | 'gauge',
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Mirrored,
) {
  const config = { name, help, labelNames, registers: [registry] };
  if (kind === 'counter') {
    return new Counter({
      ...config,
      collect() {
        this.reset();
        for (const [labels, value] of read()) this.inc(labels, value);
      },
    });
  }
  return new Gauge({
    ...config,
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

const mirrorCounter = (
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => Mirrored,
) => mirror('counter', registry, name, help, labelNames, read);

export interface MasterMetrics {
  readonly registry: Registry;
  /** What `/metrics` serves: the registry's metrics, then the gateways' per-route series. */
  readonly exposition: { readonly contentType: string; metrics(): Promise<string> };
  /** For the reconciler: observe each reconcile's duration (`kind` = `full` | `tunnel` | `zone`). */
  readonly reconcileDuration: Histogram<'kind'>;
}

/**
 * The master's Prometheus metrics, in a registry of its own (no global state, so several masters
 * can run in one test process). Gauges read their value at scrape time from SQLite and Redis.
 */
export function createMasterMetrics(deps: {
  db: SqliteDatabase;
  heartbeats: HeartbeatStore;
  commandStats: () => CommandTotals;
  cloudflareCalls: () => CloudflareCallTotals;
  cloudflareBudget: () => CloudflareBudgetResponse;
  /** What the hosts' gateways counted per route, as their agents last said. */
  gatewayTraffic?: () => RouteTraffic[];
  /** Enrolment requests admission control answered 503 `master_busy`. */
  admissionRefused?: () => number;
}): MasterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tunnelfleet_master_' });

  new Gauge({
    name: 'tunnelfleet_routes',
    help: 'Desired routes by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      for (const [status, count] of Object.entries(countRoutesByStatus(deps.db))) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'tunnelfleet_agents',
    help: 'Agents by approval status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts: Record<string, number> = { pending: 0, approved: 0, revoked: 0 };
      for (const agent of listAgents(deps.db)) counts[agent.status] = (counts[agent.status] ?? 0) + 1;
      for (const [status, count] of Object.entries(counts)) this.set({ status }, count);
    },
  });
  new Gauge({
    name: 'tunnelfleet_agents_online',
    help: 'Agents that sent a heartbeat within the last three intervals',
    registers: [registry],
    async collect() {
      this.set(await deps.heartbeats.countOnline());
    },
  });
  mirrorCounter(
    registry,
    'tunnelfleet_admission_refused_total',
    'Registrations and first snapshots answered 503 master_busy by admission control',
    [],
    () => [[{}, deps.admissionRefused?.() ?? 0]],
  );
  mirrorCounter(registry, 'tunnelfleet_commands_queued_total', 'Agent commands enqueued', [], () => [
    [{}, deps.commandStats().queued],
  ]);
  mirrorCounter(
    registry,
    'tunnelfleet_commands_delivered_total',
    'Agent commands handed over by long-poll (first deliveries and redeliveries after a lease ran out)',
    ['delivery'],
    () => {
      const stats = deps.commandStats();
      return [
        [{ delivery: 'first' }, stats.delivered],
        [{ delivery: 'redelivery' }, stats.redelivered],
      ];
    },
  );
  mirrorCounter(
    registry,
    'tunnelfleet_cloudflare_calls_total',
    'Cloudflare API calls by token and result',
    ['token', 'result'],
    () =>
      Object.entries(deps.cloudflareCalls()).flatMap(([token, counters]) =>
        Object.entries(counters).map(([result, value]): [Record<string, string>, number] => [
          { token, result },
          value,
        ]),
      ),
  );

  const budgetGauge = (
    name: string,
    help: string,
    read: (budget: CloudflareBudgetResponse) => [Record<string, string>, number][],
    labelNames: string[],
  ) => mirror('gauge', registry, name, help, labelNames, () => read(deps.cloudflareBudget()));
  const byLane =
    (pick: (b: CloudflareBudgetResponse['tokens'][number]) => Record<string, number>) =>
    (budget: CloudflareBudgetResponse) =>
      budget.tokens.flatMap((b) =>
        Object.entries(pick(b)).map(([lane, value]): [Record<string, string>, number] => [
          { token: b.token, lane },
          value,
        ]),
      );
  budgetGauge(
    'tunnelfleet_cloudflare_budget_queued',
    'Cloudflare calls waiting for the call budget, by token and lane (change, enrol, sweep, drift): the backlog',
    byLane((b) => b.queued),
    ['token', 'lane'],
  );
  budgetGauge(
    'tunnelfleet_cloudflare_budget_in_window',
    'Cloudflare calls counted in the current rate-limit window, by token and lane',
    byLane((b) => b.inWindow),
    ['token', 'lane'],
  );
  budgetGauge(
    'tunnelfleet_cloudflare_budget_ceiling',
    'Calls per window the master allows itself, by token and lane (change: the whole ceiling; drift: its share)',
    (budget) =>
      budget.tokens.flatMap((b): [Record<string, string>, number][] => [
        [{ token: b.token, lane: 'change' }, b.ceiling],
        [{ token: b.token, lane: 'drift' }, b.driftCeiling],
      ]),
    ['token', 'lane'],
  );
  budgetGauge(
    'tunnelfleet_cloudflare_budget_paused_seconds',
    'Seconds left of a pause Cloudflare asked for with a 429 (Retry-After), by token',
    (budget) => budget.tokens.map((b) => [{ token: b.token }, b.pausedSeconds]),
    ['token'],
  );
  budgetGauge(
    'tunnelfleet_cloudflare_budget_oldest_change_wait_seconds',
    'How long the oldest change waiting for the call budget has waited, by token',
    (budget) => budget.tokens.map((b) => [{ token: b.token }, b.oldestChangeWaitSeconds]),
    ['token'],
  );
  budgetGauge(
    'tunnelfleet_drift_check_period_seconds',
    "The period each tunnel and zone of a token is checked for drift: DRIFT_CHECK_PERIOD, or longer when the token's drift share needs it",
    (budget) => budget.drift.tokens.map((t) => [{ token: t.token }, t.periodSeconds]),
    ['token'],
  );
  budgetGauge(
    'tunnelfleet_drift_targets',
    'Tunnels, zones and Access scopes checked for drift, by token',
    (budget) => budget.drift.tokens.map((t) => [{ token: t.token }, t.targets]),
    ['token'],
  );
  budgetGauge(
    'tunnelfleet_drift_oldest_check_age_seconds',
    'Age of the oldest drift check (since a target appeared, for one never checked)',
    (budget) => [[{}, budget.drift.oldestCheckAgeSeconds]],
    [],
  );

  const { gatewayTraffic } = deps;
  return {
    registry,
    exposition: {
      contentType: registry.contentType,
      async metrics() {
        const text = await registry.metrics();
        return gatewayTraffic ? text + (await gatewayTrafficExposition(gatewayTraffic())) : text;
      },
    },
    reconcileDuration: new Histogram({
      name: 'tunnelfleet_reconcile_duration_seconds',
      help: 'Duration of reconcile runs',
      labelNames: ['kind'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
  };
}
