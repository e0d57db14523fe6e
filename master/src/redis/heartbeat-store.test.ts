import type { HeartbeatRequest } from '@tunnelfleet/common';
import { describe, expect, it } from 'vitest';
import { useRedis } from '../../test/use-redis.js';
import { createHeartbeatStore } from './heartbeat-store.js';
import { createRedisKeys } from './redis-keys.js';

const INTERVAL_SECONDS = 5;

const redisUnderTest = useRedis();

function beat(agentId: string): HeartbeatRequest {
  return {
    agentId,
    uptimeSeconds: 1,
    cloudflared: { state: 'running', ready: true, tunnelId: null, containerId: null },
    lastAppliedCommandVersion: null,
    dockerReachable: true,
  };
}

/** A store over a clock the test moves. */
function store(prefix: string) {
  let now = Date.parse('2026-12-04T12:00:00Z');
  const heartbeats = createHeartbeatStore({
    redis: redisUnderTest().redis,
    keys: createRedisKeys(prefix),
    intervalSeconds: INTERVAL_SECONDS,
    now: () => now,
  });
  return {
    heartbeats,
    advance(ms: number) {
      now += ms;
    },
  };
}

describe('heartbeat store', () => {
  it('keeps its keys under the configured prefix, apart from another prefix on the same Redis', async () => {
    const a = store('fleet-a');
    const b = store('fleet-b');
    // A first beat replaces nothing, and its time is the store's clock.
    expect(await a.heartbeats.record('agent-1', beat('agent-1'))).toEqual({
      cameBack: false,
      previous: null,
    });
    expect(await a.heartbeats.lastSeen(['agent-1'])).toEqual(
      new Map([['agent-1', Date.parse('2026-12-04T12:00:00Z')]]),
    );

    expect(await redisUnderTest().redis.keys('*')).toEqual(
      expect.arrayContaining(['fleet-a:heartbeats', 'fleet-a:agent-state']),
    );
    expect((await redisUnderTest().redis.keys('*')).filter((key) => !key.startsWith('fleet-a:'))).toEqual([]);
    expect(await a.heartbeats.lastState('agent-1')).toMatchObject({ cloudflared: { state: 'running' } });
    expect(await b.heartbeats.lastState('agent-1')).toBeNull();
    expect(await a.heartbeats.countOnline()).toBe(1);
    expect(await b.heartbeats.countOnline()).toBe(0);
  });

  it('flags a silent agent offline once, and reports it back when it beats again', async () => {
    const { heartbeats, advance } = store('fleet-c');
    await heartbeats.record('agent-1', beat('agent-1'));
    await heartbeats.record('agent-2', beat('agent-2'));

    advance(3 * INTERVAL_SECONDS * 1000 - 1);
    expect(await heartbeats.flagOffline()).toEqual([]);
    await heartbeats.touch('agent-2');
    advance(1);
    expect(await heartbeats.flagOffline()).toEqual(['agent-1']);
    expect(await heartbeats.flagOffline()).toEqual([]);
    expect(await heartbeats.countOnline()).toBe(1);

    expect(await heartbeats.record('agent-1', beat('agent-1'))).toMatchObject({ cameBack: true });
    // The state it replaced comes back too: alerts compare it with the new one.
    expect(await heartbeats.record('agent-1', beat('agent-1'))).toMatchObject({
      cameBack: false,
      previous: { cloudflared: { state: 'running' } },
    });
    await heartbeats.forget('agent-1');
    expect(await heartbeats.lastSeen(['agent-1', 'agent-2'])).toEqual(
      new Map([['agent-2', expect.any(Number)]]),
    );
    expect(await heartbeats.lastState('agent-1')).toBeNull();
  });
});
