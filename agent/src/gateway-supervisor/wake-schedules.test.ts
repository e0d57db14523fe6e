import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RoutingTableInput } from '@tunnelfleet/common';
import { TEST_BUSYBOX_IMAGE, uniqueName } from '@tunnelfleet/test';
import type Docker from 'dockerode';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestDocker, removeLeftovers } from '../../test/test-docker.js';
import { loadSleepingContainers } from '../state/sleeping-containers.js';
import { createContainerWaker } from './container-waker.js';
import { startWakeSchedules } from './wake-schedules.js';

/**
 * Start and stop schedules on a real engine, with the clock injected: the agent's schedule loop
 * acts on what came due between two ticks, through the same waker as a request.
 */
const logger = pino({ level: 'silent' });
let docker: Docker;
let dataDir: string;
const leftovers: string[] = [];

beforeAll(async () => {
  docker = await connectTestDocker();
  dataDir = await mkdtemp(join(tmpdir(), 'tf-wake-schedules-'));
});

afterAll(async () => {
  await removeLeftovers(docker, { containers: leftovers });
  await rm(dataDir, { recursive: true, force: true });
});

async function stoppedContainer(prefix: string) {
  const name = uniqueName(prefix);
  const container = await docker.createContainer({
    name,
    Image: TEST_BUSYBOX_IMAGE,
    Cmd: ['sleep', '3600'],
    // Init: `sleep` as PID 1 would ignore SIGTERM, and the stop would wait out its timeout.
    HostConfig: { Init: true },
  });
  leftovers.push(container.id);
  return { name, inspect: () => container.inspect() };
}

describe('wake schedules', () => {
  it('starts the container (dependencies first) when its start comes due, and puts it to sleep at its stop', async () => {
    const db = await stoppedContainer('tf-sched-db');
    const app = await stoppedContainer('tf-sched-app');
    const sleeping = await loadSleepingContainers(dataDir, logger);
    const waker = createContainerWaker({ docker, logger, sleeping });
    let clock = new Date('2026-12-07T06:59:30Z');
    const routes: RoutingTableInput['routes'] = [
      {
        id: 'route-1',
        hostname: 'app.example.com',
        backend: { url: `http://${app.name}:80` },
        wake: {
          container: app.name,
          dependsOn: [db.name],
          // 08:00 and 20:00 in Paris: 07:00 and 19:00 UTC in December.
          schedule: { start: '0 8 * * *', stop: '0 20 * * *', timeZone: 'Europe/Paris' },
        },
      },
    ];
    // What the gateway is told (its side of `/sleeping` is gateway.test.ts's).
    const told: string[] = [];
    const schedules = startWakeSchedules({
      logger,
      waker,
      routes: () => routes,
      now: () => clock,
      gateway: () => ({ putSleeping: async (name: string) => void told.push(name) }),
    });
    try {
      clock = new Date('2026-12-07T06:59:59Z');
      await schedules.tick();
      expect((await app.inspect()).State.Running).toBe(false);

      clock = new Date('2026-12-07T07:00:05Z');
      await schedules.tick();
      const [dbInfo, appInfo] = await Promise.all([db.inspect(), app.inspect()]);
      expect(dbInfo.State.Running).toBe(true);
      expect(appInfo.State.Running).toBe(true);
      expect(Date.parse(dbInfo.State.StartedAt)).toBeLessThanOrEqual(Date.parse(appInfo.State.StartedAt));

      // Running through the day: nothing due, nothing touched.
      clock = new Date('2026-12-07T18:59:00Z');
      await schedules.tick();
      expect((await app.inspect()).State.StartedAt).toBe(appInfo.State.StartedAt);

      clock = new Date('2026-12-07T19:00:01Z');
      await schedules.tick();
      expect((await app.inspect()).State.Running).toBe(false);
      // Sleeping, as after an idle stop: the master keeps its routes published.
      expect(sleeping.has(app.name)).toBe(true);
      expect(told).toEqual([app.name]);
      expect(JSON.parse(await readFile(join(dataDir, 'sleeping_containers.json'), 'utf8'))).toEqual([
        app.name,
      ]);
      // Its dependency is not the schedule's to stop.
      expect((await db.inspect()).State.Running).toBe(true);

      // The next morning it is started again and no longer sleeping.
      clock = new Date('2026-12-08T07:00:00Z');
      await schedules.tick();
      expect((await app.inspect()).State.Running).toBe(true);
      expect(sleeping.has(app.name)).toBe(false);
    } finally {
      schedules.stop();
    }
  }, 120_000);
});
