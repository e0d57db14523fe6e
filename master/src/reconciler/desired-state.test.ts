import { describe, expect, it } from 'vitest';
import {
  container,
  GRACE_SECONDS,
  type ReconcilerWorld,
  useReconcilerWorlds,
  webLabels,
} from '../../test/reconciler-test-world.js';
import { carriedRouteTargets, tunnelTarget } from '../routes/route-targets.js';
import { listTunnels } from '../store/tunnels.js';
import { desiredTargets, readDesiredState } from './desired-state.js';

const startWorld = useReconcilerWorlds();
let world: ReconcilerWorld;

describe('desired targets (the drift checks’ list)', () => {
  it('names what the whole desired state carries, zone by its first carried route, without reading every route', async () => {
    world = await startWorld();
    let advanced = 0;
    const now = () => new Date(Date.now() + advanced * 1000);
    /** What reading every route gives: each carried route's targets, and every live tunnel. */
    const fromWholeState = () =>
      [
        ...new Set([
          ...listTunnels(world.db)
            .filter((t) => t.deletedAt === null)
            .map((t) => tunnelTarget(t.id)),
          ...readDesiredState(world.db, now()).carried.flatMap(carriedRouteTargets),
        ]),
      ].sort();
    const fromDesiredTargets = () => [...desiredTargets(world.db, now())].sort();

    const a = await world.addAgent();
    const b = await world.addAgent();
    // The zone's first route (by row) ends up carried by nobody: its container is removed and its
    // grace period runs out. The route after it, without a DNS record, does not count for the zone.
    const gone = container('gone', webLabels('gone.example.com'));
    await world.report(a.agentId, gone);
    await world.report(
      a.agentId,
      container('nodns', webLabels('nodns.example.com', { 'tunnelfleet.dns': 'false' })),
    );
    await world.remove(a.agentId, gone.id);
    advanced += GRACE_SECONDS + 1;
    world.advance(GRACE_SECONDS + 1);
    world.reconciler.engine.expireGracePeriods();
    expect(fromDesiredTargets()).toEqual(fromWholeState());
    expect(fromDesiredTargets()).not.toContain('zone:example.com');

    // A later route of the zone with a record: the zone is a target again.
    await world.report(b.agentId, container('web', webLabels('app.example.com')));
    expect(fromDesiredTargets()).toEqual(fromWholeState());
    expect(fromDesiredTargets()).toEqual(
      [tunnelTarget(a.tunnelId), tunnelTarget(b.tunnelId), 'zone:example.com'].sort(),
    );
  });
});
