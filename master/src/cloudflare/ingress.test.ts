import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DesiredIngressRule,
  type IngressRule,
  ingressKey,
  mergeIngress,
  sameIngress,
} from './ingress.js';

const CATCH_ALL = { service: 'http_status:404' };

describe('mergeIngress', () => {
  it('adds our rules after foreign ones, exact before wildcard and longer paths first', () => {
    const merged = mergeIngress({
      current: [{ hostname: 'manual.example.com', service: 'http://m:80' }, { service: 'http_status:503' }],
      ownedKeys: [],
      desired: [
        { hostname: '*.example.com', service: 'http://wild:80' },
        { hostname: 'app.example.com', service: 'http://app:80' },
        { hostname: 'app.example.com', path: '/api/v2', service: 'http://v2:80' },
        { hostname: 'app.example.com', path: '/api', service: 'http://api:80' },
        { hostname: '*.eu.example.com', service: 'http://eu:80' },
      ],
    });
    expect(merged.ingress.map((r) => `${r.hostname ?? '*'}${r.path ?? ''}`)).toEqual([
      'manual.example.com',
      'app.example.com/api/v2',
      'app.example.com/api',
      'app.example.com',
      '*.eu.example.com',
      '*.example.com',
      '*',
    ]);
    expect(merged.ingress.at(-1)).toEqual({ service: 'http_status:503' });
    // manual.example.com keeps its requests; the wildcard serves the rest of its hosts.
    expect(merged.shadowed).toEqual(['*.example.com']);
  });

  it('never moves a new rule in front of a foreign rule that matches the same requests', () => {
    const foreignWildcard = { hostname: '*.example.com', service: 'http://theirs:80' };
    const merged = mergeIngress({
      current: [foreignWildcard, CATCH_ALL],
      ownedKeys: [],
      desired: [{ hostname: 'app.example.com', service: 'http://ours:80' }],
    });
    expect(merged.ingress).toEqual([
      foreignWildcard,
      { hostname: 'app.example.com', service: 'http://ours:80' },
      CATCH_ALL,
    ]);
    expect(merged.shadowed).toEqual(['app.example.com']);
  });

  it('keeps an existing rule of ours where it is when an operator adds a rule after it', () => {
    const ours = { hostname: 'app.example.com', service: 'http://ours:80' };
    const current = [ours, { hostname: 'added.example.com', service: 'http://theirs:80' }, CATCH_ALL];
    const merged = mergeIngress({ current, ownedKeys: [ingressKey('app.example.com')], desired: [ours] });
    expect(sameIngress(merged.ingress, current)).toBe(true);
  });

  it('treats an empty originRequest as no originRequest when comparing', () => {
    expect(
      sameIngress(
        [{ hostname: 'a.example.com', service: 'http://a:80', originRequest: {} }, CATCH_ALL],
        [{ hostname: 'a.example.com', service: 'http://a:80' }, CATCH_ALL],
      ),
    ).toBe(true);
  });

  it('rejects rules the API would refuse, and keeps the others', () => {
    const merged = mergeIngress({
      current: [],
      ownedKeys: [],
      desired: [
        { hostname: 'a.*.example.com', service: 'http://a:80' },
        { hostname: 'b.example.com', service: 'ftp://b' },
        { hostname: 'c.example.com', service: 'http://c:80' },
        { hostname: 'c.example.com', service: 'http://c2:80' },
      ],
    });
    expect(merged.rejected.map((r) => r.key)).toEqual(['a.*.example.com', 'b.example.com', 'c.example.com']);
    expect(merged.ingress).toEqual([{ hostname: 'c.example.com', service: 'http://c:80' }, CATCH_ALL]);
  });

  // Properties over random configurations: foreign rules are never lost, changed or reordered,
  // a foreign rule never gains a new rule of ours in front of it, and the catch-all stays last.
  const host = fc.constantFrom(
    'a.example.com',
    'b.example.com',
    '*.example.com',
    'c.other.com',
    '*.other.com',
  );
  const path = fc.option(fc.constantFrom('/x', '/x/y', '/z'), { nil: undefined });
  const rule = fc.record({ hostname: host, path, service: fc.constantFrom('http://s:1', 'http://t:2') });
  it('preserves foreign rules and never shadows them with a new rule', () => {
    fc.assert(
      fc.property(
        fc.array(rule, { maxLength: 8 }),
        fc.array(rule, { maxLength: 8 }),
        (foreignRaw, desiredRaw) => {
          const clean = (r: (typeof foreignRaw)[number]): IngressRule =>
            r.path
              ? { hostname: r.hostname, path: r.path, service: r.service }
              : { hostname: r.hostname, service: r.service };
          const foreign = foreignRaw.map(clean);
          const desired: DesiredIngressRule[] = desiredRaw.map(clean) as DesiredIngressRule[];
          const merged = mergeIngress({ current: [...foreign, CATCH_ALL], ownedKeys: [], desired });
          expect(merged.ingress.filter((r) => foreign.includes(r))).toEqual(foreign);
          expect(merged.ingress.at(-1)).toEqual(CATCH_ALL);
          const lastForeign = Math.max(-1, ...foreign.map((f) => merged.ingress.indexOf(f)));
          merged.ingress.forEach((r, i) => {
            if (!foreign.includes(r) && r !== merged.ingress.at(-1)) expect(i).toBeGreaterThan(lastForeign);
          });
          const again = mergeIngress({ current: merged.ingress, ownedKeys: merged.ownedKeys, desired });
          expect(sameIngress(again.ingress, merged.ingress)).toBe(true);
        },
      ),
    );
  });
});
