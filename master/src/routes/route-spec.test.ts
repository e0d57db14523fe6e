import { describe, expect, it } from 'vitest';
import { readRouteSpec } from './route-spec.js';

describe('readRouteSpec', () => {
  it('reads a missing or damaged spec as the defaults: DNS managed, objects cleaned up', () => {
    for (const stored of [null, undefined, 'not an object', 42]) {
      expect(readRouteSpec(stored)).toEqual({ dns: true, cleanup: true });
    }
  });

  it('keeps what the labels turned off, and takes anything but false as on', () => {
    expect(readRouteSpec({ dns: false, cleanup: false })).toEqual({ dns: false, cleanup: false });
    expect(readRouteSpec({ dns: 'no', cleanup: 0 })).toEqual({ dns: true, cleanup: true });
  });

  it('keeps the origin, Access and zone settings of the stored spec', () => {
    const stored = {
      dns: true,
      cleanup: true,
      originRequest: { noTLSVerify: true },
      access: { namedPolicies: ['staff'] },
      zoneLabel: 'example.com',
    };
    expect(readRouteSpec(stored)).toEqual(stored);
  });
});
