import { describe, expect, it } from 'vitest';
import { createKeyedMutex } from './keyed-mutex.js';

describe('keyed mutex', () => {
  it('runs tasks of one key one at a time in call order, even after a failure', async () => {
    const mutex = createKeyedMutex();
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });

    const first = mutex.run('a', async () => {
      events.push('first start');
      await gate;
      events.push('first end');
      throw new Error('first failed');
    });
    const second = mutex.run('a', async () => {
      events.push('second');
      return 2;
    });
    const other = mutex.run('b', async () => {
      events.push('other key');
      return 'b';
    });

    expect(await other).toBe('b');
    expect(events).toEqual(['first start', 'other key']);
    release();
    await expect(first).rejects.toThrow('first failed');
    expect(await second).toBe(2);
    expect(events).toEqual(['first start', 'other key', 'first end', 'second']);
  });

  it('reports a key idle only once every task queued under it has settled', async () => {
    const mutex = createKeyedMutex();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = 0;
    void mutex.run('a', async () => {
      await gate;
      finished += 1;
    });
    const failing = mutex.run('a', async () => {
      finished += 1;
      throw new Error('second failed');
    });
    failing.catch(() => {});

    let idle = false;
    const waiting = mutex.idle('a').then(() => {
      idle = true;
    });
    await mutex.idle('b');
    expect(idle).toBe(false);
    release();
    await waiting;
    expect(finished).toBe(2);
  });
});
