import { dueScheduleAction, type Logger, type RoutingTableInput } from '@tunnelfleet/common';
import type { ContainerWaker } from './container-waker.js';
import type { GatewayClient } from './gateway-client.js';

/** How often the schedules are read: cron has minutes, so a firing is acted on within this. */
const TICK_MS = 10_000;

export interface WakeSchedules {
  /** Acts on what came due since the last tick (the timer calls it; tests call it with their clock). */
  tick(): Promise<void>;
  stop(): void;
}

/**
 * The start and stop schedules of the waking routes the gateway was given, done by the agent (the
 * only Docker client) through the same waker as requests: a start wakes the container after its
 * dependencies, a stop puts it to sleep as an idle stop does (its routes stay published). Each tick
 * acts on the firings in (last tick, now]: a firing missed while the agent was down is not made
 * up for, the next one is acted on.
 */
export function startWakeSchedules(options: {
  logger: Logger;
  waker: ContainerWaker;
  /** The gateway's API while it is ready: told of a scheduled stop, so that a request wakes the container. */
  gateway?: () => Pick<GatewayClient, 'putSleeping'> | undefined;
  /** The routes the gateway serves (undefined until the master gave them). */
  routes: () => RoutingTableInput['routes'] | undefined;
  now?: () => Date;
  tickMs?: number;
}): WakeSchedules {
  const logger = options.logger.child({ component: 'wake-schedules' });
  const now = options.now ?? (() => new Date());
  let last = now();
  let running: Promise<void> | undefined;

  const due = (from: Date, to: Date) => {
    /** By container: two routes of one container asking the same minute make one action. */
    const actions = new Map<string, { action: 'start' | 'stop'; dependsOn: string[] }>();
    for (const route of options.routes() ?? []) {
      const wake = route.wake;
      if (!wake?.schedule) continue;
      let action: 'start' | 'stop' | undefined;
      try {
        action = dueScheduleAction({ ...wake.schedule, timeZone: wake.schedule.timeZone ?? 'UTC' }, from, to);
      } catch (error) {
        // The master validated it; a schedule the parser cannot read here is skipped, not fatal.
        logger.warn({ err: error, route: route.id }, 'unreadable schedule; skipped');
        continue;
      }
      const earlier = actions.get(wake.container);
      // Two routes disagreeing at one minute: the stop wins, as within one schedule.
      if (action && earlier?.action !== 'stop')
        actions.set(wake.container, { action, dependsOn: wake.dependsOn ?? [] });
    }
    return actions;
  };

  const tick = async () => {
    const to = now();
    const from = last;
    last = to;
    if (to <= from) return;
    const actions = due(from, to);
    await Promise.all(
      [...actions].map(async ([container, { action, dependsOn }]) => {
        try {
          if (action === 'start') await options.waker.wake({ container, dependsOn }, 'start schedule');
          else {
            await options.waker.sleep(container, 'stop schedule');
            // Else the gateway finds the backend gone at the next request (a request with a body: 502).
            await options.gateway?.()?.putSleeping(container);
          }
        } catch (error) {
          logger.error({ err: error, container, action }, 'cannot act on the schedule');
        }
      }),
    );
  };

  const serialised = () => {
    // One tick at a time: a slow start does not make the next tick act on the same window.
    running = (running ?? Promise.resolve())
      .then(tick)
      .catch((error: unknown) => logger.error({ err: error }, 'schedule tick failed'));
    return running;
  };
  const timer = setInterval(() => void serialised(), options.tickMs ?? TICK_MS);
  timer.unref();

  return {
    tick: serialised,
    stop() {
      clearInterval(timer);
    },
  };
}
