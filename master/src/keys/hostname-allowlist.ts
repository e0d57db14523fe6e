/**
 * Hostname allowlists of agent keys. A pattern is an exact hostname (`app.example.com`) or a
 * wildcard `*.apps.example.com`, which matches any name below `apps.example.com` (one or more
 * labels deep) but not `apps.example.com` itself — the usual meaning of "this subtree".
 * Matching is case-insensitive and ignores a trailing dot. An empty allowlist allows any hostname
 * (the managed-zones check still applies, in the routes engine).
 */
function normalize(hostname: string): string {
  return hostname.trim().toLowerCase().replace(/\.$/, '');
}

export function hostnameMatchesPattern(hostname: string, pattern: string): boolean {
  const name = normalize(hostname);
  const wanted = normalize(pattern);
  if (wanted.startsWith('*.')) {
    const suffix = wanted.slice(1); // ".apps.example.com"
    return name.length > suffix.length && name.endsWith(suffix);
  }
  return name === wanted;
}

export type HostnameVerdict = { allowed: true } | { allowed: false; reason: string };

export function checkHostnameAllowed(hostname: string, allowlist: readonly string[]): HostnameVerdict {
  if (allowlist.length === 0) return { allowed: true };
  if (allowlist.some((pattern) => hostnameMatchesPattern(hostname, pattern))) return { allowed: true };
  return {
    allowed: false,
    reason: `hostname ${normalize(hostname)} is outside this agent's allowlist (${allowlist.join(', ')})`,
  };
}
