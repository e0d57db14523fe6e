import type { GatewayRoute, Logger } from '@tunnelfleet/common';
import { probeBackend } from './readiness-probe.js';
import type { RouteGroup } from './routing-table.js';

export interface BackendBalancer {
  /**
   * The member of `group` a request goes to: round-robin when the weights are equal, else at
   * random in proportion to them; members taken out are skipped while another is in. Undefined
   * when every weight is 0.
   */
  pick(group: RouteGroup): GatewayRoute | undefined;
  /** A group member failed (no connection, or a 5xx): out until a probe of it succeeds. */
  failed(group: RouteGroup, member: GatewayRoute): void;
  /** Backend origins taken out now. */
  unhealthy(): string[];
  /** Forgets the groups and backends a new table no longer has (a removed backend is not probed on). */
  retain(table: { groups: ReadonlySet<string>; backends: ReadonlySet<string> }): void;
  close(): void;
}

const PROBE_TIMEOUT_MS = 1_000;

/**
 * Chooses a group's member and keeps the health of members. Health is passive (a failed request
 * takes the member out) and active (a taken-out member is probed every interval and put back when
 * it answers: a TCP connect, or its wake health path). A group whose members are all out uses all
 * of them: a guess is better than refusing every request.
 */
export function createBackendBalancer(options: {
  probeIntervalMs: number;
  logger: Logger;
  random?: () => number;
}): BackendBalancer {
  const logger = options.logger.child({ component: 'balancer' });
  const random = options.random ?? Math.random;
  /** Round-robin position per group key: kept across table swaps, so a push does not reset it. */
  const turns = new Map<string, number>();
  const out = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const probe = (member: GatewayRoute) => {
    const origin = member.backend.url;
    const timer = setTimeout(() => {
      void probeBackend(member, PROBE_TIMEOUT_MS).then((ready) => {
        if (closed || out.get(origin) !== timer) return;
        if (!ready) {
          probe(member);
          return;
        }
        out.delete(origin);
        logger.info({ route: member.id, backend: origin }, 'backend answers again: put back');
      });
    }, options.probeIntervalMs);
    timer.unref();
    out.set(origin, timer);
  };

  return {
    pick(group) {
      const { members } = group;
      if (members.length === 1) return members[0]!.weight === 0 ? undefined : members[0];
      const weighted = members.filter((member) => (member.weight ?? 1) > 0);
      const healthy = weighted.filter((member) => !out.has(member.backend.url));
      const eligible = healthy.length > 0 ? healthy : weighted;
      if (eligible.length === 0) return undefined;
      const first = eligible[0]!.weight ?? 1;
      if (eligible.every((member) => (member.weight ?? 1) === first)) {
        const turn = turns.get(group.key) ?? 0;
        turns.set(group.key, (turn + 1) % 1_000_000_000);
        return eligible[turn % eligible.length];
      }
      const total = eligible.reduce((sum, member) => sum + (member.weight ?? 1), 0);
      let point = random() * total;
      for (const member of eligible) {
        point -= member.weight ?? 1;
        if (point < 0) return member;
      }
      return eligible.at(-1);
    },
    failed(group, member) {
      if (group.members.length < 2 || closed || out.has(member.backend.url)) return;
      logger.warn(
        { route: member.id, backend: member.backend.url },
        'backend failed: taken out of its group',
      );
      probe(member);
    },
    unhealthy: () => [...out.keys()],
    retain({ groups, backends }) {
      for (const key of turns.keys()) if (!groups.has(key)) turns.delete(key);
      for (const [origin, timer] of out) {
        if (backends.has(origin)) continue;
        clearTimeout(timer);
        out.delete(origin);
      }
    },
    close() {
      closed = true;
      for (const timer of out.values()) clearTimeout(timer);
      out.clear();
    },
  };
}
