import { describe, expect, it } from 'vitest';
import { WakeFailedError, wakeOrder } from './wake-dependencies.js';

describe('wakeOrder', () => {
  it('puts dependencies of dependencies first, each once, in the order given', () => {
    const direct = new Map([
      ['app', ['db', 'cache']],
      ['db', ['volume-helper']],
      ['cache', ['volume-helper']],
    ]);
    expect(wakeOrder('app', direct)).toEqual(['volume-helper', 'db', 'cache']);
  });

  it('refuses a cycle, naming it', () => {
    const direct = new Map([
      ['app', ['db']],
      ['db', ['queue']],
      ['queue', ['db']],
    ]);
    expect(() => wakeOrder('app', direct)).toThrow(WakeFailedError);
    expect(() => wakeOrder('app', direct)).toThrow(
      'dependency cycle db → queue → db (check their depends_on labels)',
    );
  });
});
