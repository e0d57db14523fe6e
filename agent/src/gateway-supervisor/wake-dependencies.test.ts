import { describe, expect, it } from 'vitest';
import { dependencyOrder, WakeFailedError } from './wake-dependencies.js';

describe('dependencyOrder', () => {
  it('puts dependencies of dependencies first, each once, in the order given', () => {
    const direct = new Map([
      ['app', ['db', 'cache']],
      ['db', ['volume-helper']],
      ['cache', ['volume-helper']],
    ]);
    expect(dependencyOrder('app', direct)).toEqual(['volume-helper', 'db', 'cache']);
  });

  it('refuses a cycle, naming it', () => {
    const direct = new Map([
      ['app', ['db']],
      ['db', ['queue']],
      ['queue', ['db']],
    ]);
    expect(() => dependencyOrder('app', direct)).toThrow(WakeFailedError);
    expect(() => dependencyOrder('app', direct)).toThrow(
      'dependency cycle db → queue → db (check their depends_on labels)',
    );
  });
});
