import { describe, expect, it } from 'vitest';
import { useTempStore } from '../../test/temp-store.js';
import { findAgentKey, touchAgentKey } from './agent-keys.js';

const db = useTempStore({ agents: ['ag_a'] });
const at = (time: string) => new Date(`2026-12-06T${time}Z`);
const changes = () => db().prepare('SELECT total_changes() AS n').pluck().get() as number;

describe('the time a key was last used', () => {
  it('is recorded at first use, then at most once a minute, however often the key is used', () => {
    const key = () => findAgentKey(db(), 'k_ag_a')!;
    expect(key().lastUsedAt).toBeNull();

    touchAgentKey(db(), key(), at('10:00:00.000'));
    expect(key().lastUsedAt).toBe('2026-12-06T10:00:00.000Z');

    // Every request within the minute: nothing written.
    const written = changes();
    for (const time of ['10:00:01.000', '10:00:30.000', '10:00:59.999', '10:01:00.000'])
      touchAgentKey(db(), key(), at(time));
    expect(changes()).toBe(written);
    expect(key().lastUsedAt).toBe('2026-12-06T10:00:00.000Z');

    touchAgentKey(db(), key(), at('10:01:00.001'));
    expect(key().lastUsedAt).toBe('2026-12-06T10:01:00.001Z');
  });

  it('is not set back by a request that read the key before another one recorded a later use', () => {
    const read = findAgentKey(db(), 'k_ag_a')!;
    touchAgentKey(db(), read, at('10:05:00.000'));
    // The first request's copy still says "never used"; the row says 10:05.
    touchAgentKey(db(), read, at('10:05:10.000'));
    expect(findAgentKey(db(), 'k_ag_a')!.lastUsedAt).toBe('2026-12-06T10:05:00.000Z');
  });
});
