/**
 * Hostname allowlists of agent keys. A pattern is an exact hostname (`app.example.com`) or a
 * wildcard `*.apps.example.com`, which matches any name below `apps.example.com` (one or more
 * labels deep) but not `apps.example.com` itself — the usual meaning of "this subtree".
 * Matching is case-insensitive and ignores a trailing dot. A route's hostname may itself be a
 * wildcard (`*.apps.example.com`, served for every unclaimed name below it): it is allowed only by
 * a pattern naming that wildcard or a broader one (`*.example.com`). A key that may claim any
 * hostname gets no wildcard: one `*.example.com` route would take every unclaimed name of the zone
 * (the managed-zones check applies to every key, in the routes engine).
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

export function checkHostnameAllowed(
  hostname: string,
  scope: { hostnameAllowlist: readonly string[]; allowAnyHostname: boolean },
): HostnameVerdict {
  const name = normalize(hostname);
  if (scope.allowAnyHostname) {
    if (!name.includes('*')) return { allowed: true };
    return {
      allowed: false,
      reason:
        `wildcard hostname ${name} needs a key whose allowlist names it (or a broader wildcard); ` +
        "this agent's key allows any hostname, which never includes wildcards",
    };
  }
  if (scope.hostnameAllowlist.some((pattern) => hostnameMatchesPattern(name, pattern)))
    return { allowed: true };
  const listed = scope.hostnameAllowlist.join(', ') || 'empty';
  return { allowed: false, reason: `hostname ${name} is outside this agent's allowlist (${listed})` };
}
