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
  /** Moves a ticket to the `change` lane; its waiting calls are served as changes at once. */
  promote(ticket: LaneTicket): void;
  /** For the call budgets: told when a promotion may let a waiting call go first. */
  onPromote(listener: () => void): void;
}

/** The ticket of every call not made for a ticket of its own: changes. */
const CHANGE_TICKET: LaneTicket = Object.freeze({ lane: 'change' }) as LaneTicket;

/**
 * Where a call's ticket travels: a property of the `RequestInit` the SDK hands the budget's fetch.
 * A client made for a unit of work carries it in its `fetchOptions`, which the SDK spreads into
 * every request's init (the pages of a list included). Passed explicitly, not in an
 * AsyncLocalStorage: on Node 20 that turns on a promise hook for every promise of the process, and
 * the master's CPU per request fell by a fifth without it (`bench/RESULTS.md`).
 */
const LANE_TICKET = Symbol('tunnelfleet.laneTicket');

/**
 * The SDK client's `fetchOptions` that put every call of the client in the ticket's lane. Typed as
 * an empty init: the symbol is ours, and no `RequestInit` field is set.
 */
export function laneFetchOptions(ticket: LaneTicket): Record<never, never> {
  return { [LANE_TICKET]: ticket };
}

/** The ticket a request was made for (`change` when none). */
export function ticketOf(init: RequestInit | undefined): LaneTicket {
  return (init as { [LANE_TICKET]?: LaneTicket } | undefined)?.[LANE_TICKET] ?? CHANGE_TICKET;
}

/** The promotions of one set of credentials. */
export function createBudgetLanes(): BudgetLanes {
  const listeners: (() => void)[] = [];
  return {
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
