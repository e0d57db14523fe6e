import type { RouteGroup, RouteGroupBy } from '@tunnelfleet/common';
import { findAgent } from '../store/agents.js';
import type { SqliteDatabase } from '../store/database.js';
import type { RouteGroupCount } from '../store/routes.js';

/** What a policy group's key says, in words. */
function policyLabel(key: string | null): string {
  if (key === '#labels') return 'Access from its own labels';
  if (key === null || key === '#none') return 'No Access';
  try {
    const names = JSON.parse(key) as unknown;
    if (Array.isArray(names) && names.length > 0) {
      return `${names.length === 1 ? 'Policy' : 'Policies'} ${names.map(String).join(', ')}`;
    }
  } catch {
    // Not a list: shown as it is.
  }
  return key;
}

/** The header of each group of a grouped routes page: names, not only keys. */
export function labelRouteGroups(
  db: SqliteDatabase,
  by: RouteGroupBy,
  groups: readonly RouteGroupCount[],
): RouteGroup[] {
  return groups.map((group) => {
    let label: string;
    if (by === 'agent') {
      const agent = group.key === null ? undefined : findAgent(db, group.key);
      label = agent ? `${agent.name} (${agent.id})` : (group.key ?? 'no agent');
    } else if (by === 'zone') {
      label = group.key ?? 'No zone';
    } else if (by === 'policy') {
      label = policyLabel(group.key);
    } else {
      label = group.key ?? 'no status';
    }
    return { ...group, label };
  });
}
