import type { AccessDecision, AccessRule } from './types.js';

/**
 * DockFlare's two built-in access groups. `access.policy=authenticate` names the first, which
 * Tunnelfleet reads as the named policy of that name; `access.policy=bypass` and the group
 * `public-default-bypass` become an inline bypass for everyone, and labels may also name it.
 */
export const DOCKFLARE_AUTHENTICATED_GROUP = 'authenticated-default';
export const DOCKFLARE_BYPASS_GROUP = 'public-default-bypass';

/** The one command that defines both on the master (`tunnelfleet access-policies …`). */
export const CREATE_DOCKFLARE_DEFAULTS_COMMAND =
  'tunnelfleet access-policies create-dockflare-defaults --email you@example.com';

/**
 * The named policies the command creates: DockFlare's authenticated group lets the given people in
 * (DockFlare uses the account's e-mail), its public group bypasses Access for everyone.
 */
export function dockflareDefaultPolicies(people: AccessRule[]): {
  name: string;
  spec: { decision: AccessDecision; include: AccessRule[]; require: AccessRule[]; exclude: AccessRule[] };
}[] {
  return [
    {
      name: DOCKFLARE_AUTHENTICATED_GROUP,
      spec: { decision: 'allow', include: people, require: [], exclude: [] },
    },
    {
      name: DOCKFLARE_BYPASS_GROUP,
      spec: { decision: 'bypass', include: [{ everyone: {} }], require: [], exclude: [] },
    },
  ];
}

/** Why a route naming an undefined policy waits, with the command when it is one of DockFlare's. */
export function undefinedPolicyMessage(name: string): string {
  const message = `Access policy "${name}" is not defined on the master`;
  return name === DOCKFLARE_AUTHENTICATED_GROUP || name === DOCKFLARE_BYPASS_GROUP
    ? `${message} (DockFlare's group: create it with \`${CREATE_DOCKFLARE_DEFAULTS_COMMAND}\`)`
    : message;
}
