import type { CloudflaredProblem } from '@tunnelfleet/common';
import type { CloudflaredStatus } from '../cloudflared/index.js';
import type { MasterLinkState } from '../master-client/index.js';

/** Body of `GET /healthz`. */
export interface HealthReport {
  healthy: boolean;
  docker: { reachable: boolean };
  master: {
    reachable: boolean;
    lastContactAt: string | null;
    /** Unreachable for less than the budget: cloudflared keeps serving, nothing is wrong yet. */
    withinOutageBudget: boolean;
  };
  cloudflared: {
    state: string;
    ready: boolean;
    restarts: number;
    lastError?: string;
    problem?: CloudflaredProblem;
  };
  /** The master rejected the API key: only an operator can fix it. */
  revoked: boolean;
}

interface HealthInput {
  dockerReachable: boolean;
  link: MasterLinkState;
  cloudflared: CloudflaredStatus | undefined;
  /** When the agent started: the outage budget runs from there until the first contact. */
  startedAt: number;
  now: number;
  outageBudgetMs: number;
}

/** A day: a master down for maintenance or a network cut is survived, a forgotten host is not. */
export const DEFAULT_OUTAGE_BUDGET_MS = 24 * 3_600_000;

/**
 * Healthy unless the host can no longer serve or be managed: the key is revoked, Docker cannot be
 * reached, or the master has been out of reach for longer than the outage budget.
 */
export function evaluateHealth(input: HealthInput): HealthReport {
  const { link } = input;
  const silentSince = link.lastContactAt ?? input.startedAt;
  const withinOutageBudget = link.reachable || input.now - silentSince <= input.outageBudgetMs;
  const cloudflared = input.cloudflared;
  return {
    healthy: !link.revoked && input.dockerReachable && withinOutageBudget,
    docker: { reachable: input.dockerReachable },
    master: {
      reachable: link.reachable,
      lastContactAt: link.lastContactAt === undefined ? null : new Date(link.lastContactAt).toISOString(),
      withinOutageBudget,
    },
    cloudflared: {
      state: cloudflared?.state ?? 'missing',
      ready: cloudflared?.ready ?? false,
      restarts: cloudflared?.restarts ?? 0,
      ...(cloudflared?.lastError ? { lastError: cloudflared.lastError } : {}),
      ...(cloudflared?.problem ? { problem: cloudflared.problem } : {}),
    },
    revoked: link.revoked,
  };
}
