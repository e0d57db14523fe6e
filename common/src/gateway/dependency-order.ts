/**
 * The containers to start before `container`, dependencies of dependencies first, or the first
 * cycle found on the way (`[a, b, a]` for a → b → a). `direct` is each waking container's
 * `depends_on`: one container's labels cannot show a cycle through another's, so it is found on
 * the whole graph, by the agent when a wake needs the order and by the master when it publishes.
 */
export function dependencyOrder(
  container: string,
  direct: ReadonlyMap<string, readonly string[]>,
): { ok: true; order: string[] } | { ok: false; cycle: string[] } {
  const order: string[] = [];
  const done = new Set<string>();
  const visit = (name: string, path: string[]): string[] | undefined => {
    if (path.includes(name)) return [...path.slice(path.indexOf(name)), name];
    if (done.has(name)) return undefined;
    for (const dependency of direct.get(name) ?? []) {
      const cycle = visit(dependency, [...path, name]);
      if (cycle) return cycle;
    }
    done.add(name);
    if (name !== container) order.push(name);
    return undefined;
  };
  const cycle = visit(container, []);
  return cycle ? { ok: false, cycle } : { ok: true, order };
}

/** A cycle as the route's status and the wake error show it. */
export const describeCycle = (cycle: readonly string[]) =>
  `dependency cycle ${cycle.join(' → ')} (check their depends_on labels)`;
