import { describe, expect, it } from 'vitest';
import { zoneTarget } from '../routes/route-targets.js';
import { createPendingZoneNames } from './pending-zone-names.js';

const zone = zoneTarget('example.com');

describe('pending zone names', () => {
  it('gathers the names of the changes a queued sync waits for, and hands them to one sync', () => {
    const pending = createPendingZoneNames();
    pending.add(zone, new Set(['a.example.com']));
    pending.add(zone, new Set(['b.example.com', 'a.example.com']));
    expect(pending.take(zone)).toEqual(new Set(['a.example.com', 'b.example.com']));
    // Taken: a job with nothing gathered for it (a master restarted with jobs queued) is whole.
    expect(pending.take(zone)).toBeUndefined();
  });

  it('makes the sync whole once any change came without its names, whatever came before or after', () => {
    const pending = createPendingZoneNames();
    pending.add(zone, new Set(['a.example.com']));
    pending.add(zone, undefined);
    pending.add(zone, new Set(['b.example.com']));
    expect(pending.take(zone)).toBeUndefined();
    pending.add(zone, new Set());
    expect(pending.take(zone)).toBeUndefined();
  });

  it('gives a failed sync its names back for the retry, with the changes that came meanwhile', () => {
    const pending = createPendingZoneNames();
    pending.add(zone, new Set(['a.example.com']));
    const taken = pending.take(zone);
    pending.add(zone, new Set(['b.example.com']));
    pending.giveBack(zone, taken);
    expect(pending.take(zone)).toEqual(new Set(['a.example.com', 'b.example.com']));

    // A whole sync that failed is retried whole.
    pending.add(zone, new Set(['c.example.com']));
    pending.giveBack(zone, undefined);
    expect(pending.take(zone)).toBeUndefined();
  });
});
