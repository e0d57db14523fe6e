/** Client addresses remembered at most; beyond, the oldest are forgotten (a flood cannot grow it). */
const MAX_CLIENTS = 10_000;

/** At most one request per `intervalMs` per key (client address and endpoint). */
export function createClientRateLimit(intervalMs: number, now: () => number = Date.now) {
  const last = new Map<string, number>();
  return (key: string): boolean => {
    const at = now();
    const previous = last.get(key);
    if (previous !== undefined && at - previous < intervalMs) return false;
    last.delete(key);
    last.set(key, at);
    if (last.size > MAX_CLIENTS) last.delete(last.keys().next().value!);
    return true;
  };
}
