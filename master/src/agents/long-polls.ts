/**
 * Open long-polls per agent, so revoking an agent can end them at once instead of letting them
 * run out their wait. In memory: a long-poll lives in this process's HTTP server.
 */
export interface LongPollRegistry {
  /** A signal aborted when the request closes (call `release`) or the agent is cut off. */
  open(agentId: string): { signal: AbortSignal; release(): void };
  abortAll(agentId: string, reason: string): number;
  count(): number;
}

export function createLongPollRegistry(): LongPollRegistry {
  const open = new Map<string, Set<AbortController>>();
  return {
    open(agentId) {
      const controller = new AbortController();
      let polls = open.get(agentId);
      if (!polls) {
        polls = new Set();
        open.set(agentId, polls);
      }
      polls.add(controller);
      const release = () => {
        polls.delete(controller);
        if (polls.size === 0 && open.get(agentId) === polls) open.delete(agentId);
      };
      return { signal: controller.signal, release };
    },
    abortAll(agentId, reason) {
      const polls = open.get(agentId);
      open.delete(agentId);
      for (const controller of polls ?? []) controller.abort(new Error(reason));
      return polls?.size ?? 0;
    },
    count() {
      let total = 0;
      for (const polls of open.values()) total += polls.size;
      return total;
    },
  };
}
