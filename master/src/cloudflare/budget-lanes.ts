import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who a Cloudflare call is for, in the order the call budget serves them:
 * - `change`: a new, changed or removed route, an operator's action;
 * - `enrol`: a host's tunnel as its registration provisions it (create, token). It shares the
 *   first rank with `change`, taking turns while both wait (`call-budget.ts`), so a publishing
 *   backlog never starves enrolment and a fleet enrolling at once never starves route changes;
 * - `sweep`: the full reconcile at start (convergence after a restart), with whatever changes leave;
 * - `drift`: the paced drift checks, which also stay under their share of the budget.
 */
export type BudgetLane = 'change' | 'enrol' | 'sweep' | 'drift';

export const BUDGET_LANES: readonly BudgetLane[] = ['change', 'enrol', 'sweep', 'drift'];

/** A unit of work's lane; mutable, so a drift check that a change now waits for can be promoted. */
export interface LaneTicket {
  lane: BudgetLane;
  /** When present, each call granted to this ticket adds one (what a drift check costs). */
  calls?: number;
}

export interface BudgetLanes {
  /** Runs `fn` with every Cloudflare call it makes (however deep) in the ticket's lane. */
  run<T>(ticket: LaneTicket, fn: () => Promise<T>): Promise<T>;
  /** The lane of the calling code (`change` outside any `run`). */
  current(): LaneTicket;
  /** Moves a ticket to the `change` lane; its waiting calls are served as changes at once. */
  promote(ticket: LaneTicket): void;
  /** For the call budgets: told when a promotion may let a waiting call go first. */
  onPromote(listener: () => void): void;
}

const CHANGE: LaneTicket = Object.freeze({ lane: 'change' }) as LaneTicket;

/**
 * The lanes of one set of credentials. The lane travels with the async context (the SDK's
 * `fetch` runs inside the caller's context), so the layer's functions need no extra parameter.
 */
export function createBudgetLanes(): BudgetLanes {
  const storage = new AsyncLocalStorage<LaneTicket>();
  const listeners: (() => void)[] = [];
  return {
    run: (ticket, fn) => storage.run(ticket, fn),
    current: () => storage.getStore() ?? CHANGE,
    promote(ticket) {
      if (ticket.lane === 'change') return;
      ticket.lane = 'change';
      for (const listener of listeners) listener();
    },
    onPromote(listener) {
      listeners.push(listener);
    },
  };
}
