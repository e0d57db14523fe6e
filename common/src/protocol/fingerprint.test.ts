import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Container } from './container.js';
import { FINGERPRINT_PATTERN, snapshotFingerprint } from './fingerprint.js';
import { stableStringify } from './stable-stringify.js';

const a: Container = {
  id: 'a'.repeat(64),
  name: 'web',
  labels: { 'tunnelfleet.enable': 'true', 'tunnelfleet.hostname': 'a.example.com' },
  state: 'running',
  networks: {
    front: { ipAddress: '10.0.0.2', aliases: ['web', 'www'] },
    back: { ipAddress: '10.0.1.2', aliases: [] },
  },
  exposedPorts: [
    { port: 443, protocol: 'tcp' },
    { port: 80, protocol: 'tcp' },
  ],
};
const b: Container = { ...a, id: 'b'.repeat(64), name: 'api', labels: { 'tunnelfleet.enable': 'false' } };

/** The same data with every key inserted in reverse order. */
function reversedKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(reversedKeys) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversedKeys(v)]),
  ) as T;
}

describe('stableStringify', () => {
  it('sorts keys at every depth and keeps array order', () => {
    expect(stableStringify({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
  });

  it('drops undefined members like JSON.stringify', () => {
    expect(stableStringify({ a: undefined, b: 'x' })).toBe('{"b":"x"}');
  });

  it('is independent of key order and parses back to the same data', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = stableStringify(value);
        expect(stableStringify(reversedKeys(value))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('snapshotFingerprint', () => {
  it('has the documented format and is deterministic', () => {
    const fingerprint = snapshotFingerprint([a, b]);
    expect(fingerprint).toMatch(FINGERPRINT_PATTERN);
    expect(snapshotFingerprint([a, b])).toBe(fingerprint);
  });

  it('ignores the order of containers, keys, networks, aliases and ports', () => {
    const shuffled: Container = {
      ...reversedKeys(a),
      networks: {
        back: { aliases: [], ipAddress: '10.0.1.2' },
        front: { aliases: ['www', 'web'], ipAddress: '10.0.0.2' },
      },
      exposedPorts: [...a.exposedPorts].reverse(),
    };
    expect(snapshotFingerprint([b, shuffled])).toBe(snapshotFingerprint([a, b]));
  });

  it.each([
    ['a label value', { labels: { ...a.labels, 'tunnelfleet.hostname': 'b.example.com' } }],
    ['a new label', { labels: { ...a.labels, 'tunnelfleet.path': '/x' } }],
    ['the state', { state: 'exited' as const }],
    ['an ip address', { networks: { ...a.networks, back: { ipAddress: '10.0.1.3', aliases: [] } } }],
    ['a port protocol', { exposedPorts: [{ port: 80, protocol: 'udp' as const }] }],
    ['the name', { name: 'web2' }],
  ])('changes when %s changes', (_label, patch) => {
    expect(snapshotFingerprint([{ ...a, ...patch }, b])).not.toBe(snapshotFingerprint([a, b]));
  });

  it('differs between an empty snapshot and one container', () => {
    expect(snapshotFingerprint([])).not.toBe(snapshotFingerprint([a]));
  });

  it('does not mutate its input', () => {
    const copy = structuredClone(a);
    snapshotFingerprint([a]);
    expect(a).toEqual(copy);
  });
});
