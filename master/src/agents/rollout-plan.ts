import { type RolloutOptions, ValidationError } from '@tunnelfleet/common';

/** A host the fleet's image applies to, and why it sits a rollout out (`skip`), if it does. */
export interface RolloutCandidate {
  agentId: string;
  name: string;
  skip?: string;
}

export interface PlannedHost {
  agentId: string;
  /** 0 is the canary; null: skipped (`detail` says why). */
  wave: number | null;
  detail?: string;
}

/**
 * Orders the hosts into waves: the canary alone first (the operator's choice, else the first
 * `canarySize` hosts by name), then the others by name, `waveSize` at a time.
 */
export function planRolloutWaves(
  candidates: readonly RolloutCandidate[],
  options: RolloutOptions,
): PlannedHost[] {
  const byName = [...candidates].sort(
    (x, y) => x.name.localeCompare(y.name) || x.agentId.localeCompare(y.agentId),
  );
  const eligible = byName.filter((candidate) => candidate.skip === undefined);
  const skipped = byName.filter((candidate) => candidate.skip !== undefined);
  let canary: RolloutCandidate[];
  if (options.canary) {
    const issues = options.canary.flatMap((agentId, index) => {
      if (eligible.some((candidate) => candidate.agentId === agentId)) return [];
      const reason =
        skipped.find((candidate) => candidate.agentId === agentId)?.skip ?? 'no approved agent of that id';
      return [{ path: `canary.${index}`, reason: `${agentId} cannot take part in a rollout: ${reason}` }];
    });
    if (issues.length > 0) throw new ValidationError('rollout', issues);
    canary = eligible.filter((candidate) => options.canary!.includes(candidate.agentId));
  } else {
    canary = eligible.slice(0, options.canarySize);
  }
  const rest = eligible.filter((candidate) => !canary.includes(candidate));
  return [
    ...canary.map((candidate) => ({ agentId: candidate.agentId, wave: 0 })),
    ...rest.map((candidate, index) => ({
      agentId: candidate.agentId,
      wave: 1 + Math.floor(index / options.waveSize),
    })),
    ...skipped.map((candidate) => ({ agentId: candidate.agentId, wave: null, detail: candidate.skip! })),
  ];
}
