import { describe, expect, it } from 'vitest';
import { gatewayPathMatch } from './path-match.js';

describe('gatewayPathMatch', () => {
  it('turns a path label into the gateway match of the same meaning', () => {
    expect(gatewayPathMatch(undefined)).toEqual({ type: 'prefix', value: '/' });
    expect(gatewayPathMatch('^/')).toEqual({ type: 'prefix', value: '/' });
    expect(gatewayPathMatch('^/login$')).toEqual({ type: 'exact', value: '/login' });
    expect(gatewayPathMatch('^/robots\\.txt$')).toEqual({ type: 'exact', value: '/robots.txt' });
    expect(gatewayPathMatch('^/api(/|$)')).toEqual({ type: 'prefix', value: '/api' });
    expect(gatewayPathMatch('^/api(?:/|$)')).toEqual({ type: 'prefix', value: '/api' });
    // Not the same meaning as a segment prefix: kept as regexes.
    expect(gatewayPathMatch('^/api')).toEqual({ type: 'regex', value: '^/api' });
    expect(gatewayPathMatch('^/api/')).toEqual({ type: 'regex', value: '^/api/' });
    expect(gatewayPathMatch('/api')).toEqual({ type: 'regex', value: '/api' });
    expect(gatewayPathMatch('^/a.b$')).toEqual({ type: 'regex', value: '^/a.b$' });
  });
});
