import { dependencyOrder, describeCycle, TunnelfleetError } from '@tunnelfleet/common';
import type Docker from 'dockerode';

/** A wake that cannot be done: a dependency cycle, or a dependency that did not become ready. */
export class WakeFailedError extends TunnelfleetError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('wake_failed', message, { httpStatus: 502, ...(details ? { details } : {}) });
  }
}

/** The containers to start before `container` (see `dependencyOrder`); a cycle fails the wake. */
export function wakeOrder(container: string, direct: ReadonlyMap<string, readonly string[]>): string[] {
  const found = dependencyOrder(container, direct);
  if (!found.ok) throw new WakeFailedError(describeCycle(found.cycle), { cycle: found.cycle.join(' → ') });
  return found.order;
}

/**
 * A dependency without a HEALTHCHECK is ready once it has run this long: one that exits at once
 * (a bad setting, a missing volume) fails the wake instead of counting as started.
 */
const SETTLE_MS = 1_000;

/**
 * Waits until a started dependency is ready: healthy if its image or container declares a Docker
 * HEALTHCHECK (`starting` is waited for), else running for a second. Exited, dead or `unhealthy`
 * fails at once; so does `deadline` passing.
 */
export async function waitDependencyReady(
  docker: Docker,
  name: string,
  deadline: number,
  intervalMs = 500,
): Promise<void> {
  for (;;) {
    const { State } = await docker.getContainer(name).inspect();
    const health = State.Health?.Status;
    const checked = health !== undefined && health !== 'none';
    if (
      State.Running &&
      (checked ? health === 'healthy' : Date.now() - Date.parse(State.StartedAt) >= SETTLE_MS)
    )
      return;
    const details = { dependency: name };
    if (health === 'unhealthy') throw new WakeFailedError(`dependency ${name} is unhealthy`, details);
    if (!State.Running && !State.Restarting && State.Status !== 'created')
      throw new WakeFailedError(`dependency ${name} exited (code ${State.ExitCode})`, details);
    if (Date.now() >= deadline)
      throw new WakeFailedError(
        `dependency ${name} was not ready within the start timeout (${health ? `health ${health}` : State.Status})`,
        details,
      );
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
