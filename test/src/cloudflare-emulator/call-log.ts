export interface CallRecord {
  method: string;
  path: string;
  /** The query string as sent, `?` included (empty when none): what a list call asked for. */
  query: string;
  /** Route key, e.g. `PUT /accounts/:id/cfd_tunnel/:id/configurations`; null when no route matched. */
  route: string | null;
  status: number;
  /** Name of the API token used, if it was recognised. */
  token: string | null;
  time: number;
}

export function createCallLog() {
  let calls: CallRecord[] = [];
  return {
    add(call: CallRecord): void {
      calls.push(call);
    },
    all(): CallRecord[] {
      return [...calls];
    },
    clear(): void {
      calls = [];
    },
    /** Calls that changed something: non-GET calls that succeeded. */
    writes(): CallRecord[] {
      return calls.filter((call) => call.method !== 'GET' && call.status < 400 && call.route !== null);
    },
    countsByRoute(): Record<string, number> {
      const counts: Record<string, number> = {};
      for (const call of calls) {
        if (call.route) counts[call.route] = (counts[call.route] ?? 0) + 1;
      }
      return counts;
    },
  };
}
