/** Set on the cloudflared container the agent itself manages: never a route source. */
export const MANAGED_LABEL = 'tunnelfleet.managed';

/**
 * Whether a container is ours to report. Any key under a known prefix counts, not only `*.enable`,
 * so a misspelt `tunnelfleet.enabel` still reaches the master, which reports it as a problem.
 * Docker's `label` filter ANDs its values, so this cannot be done server-side.
 */
export function hasTunnelLabels(
  labels: Record<string, string> | null | undefined,
  prefixes: readonly string[],
) {
  if (!labels || MANAGED_LABEL in labels) return false;
  return Object.keys(labels).some((key) => prefixes.some((prefix) => key.startsWith(prefix)));
}
