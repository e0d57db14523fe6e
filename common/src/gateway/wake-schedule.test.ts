import { describe, expect, it } from 'vitest';
import { routingTableSchema } from './routing-table.js';
import { dueScheduleAction, lastFireTime } from './wake-schedule.js';

const at = (iso: string) => new Date(iso);

describe('wake schedules', () => {
  it('finds the last firing at or before a time, in the schedule’s time zone', () => {
    // 08:00 in Paris is 07:00 UTC in winter.
    expect(lastFireTime('0 8 * * 1-5', 'Europe/Paris', at('2026-12-07T07:00:00Z'))).toEqual(
      at('2026-12-07T07:00:00Z'),
    );
    expect(lastFireTime('0 8 * * 1-5', 'Europe/Paris', at('2026-12-07T06:59:59Z'))).toEqual(
      at('2026-12-04T07:00:00Z'),
    );
    // In summer Paris is UTC+2: the same expression fires at 06:00 UTC.
    expect(lastFireTime('0 8 * * *', 'Europe/Paris', at('2026-07-01T06:30:00Z'))).toEqual(
      at('2026-07-01T06:00:00Z'),
    );
  });

  it('says what is due in a window (from, to]: nothing, the start, the stop', () => {
    const schedule = { start: '0 8 * * *', stop: '0 20 * * *', timeZone: 'UTC' };
    expect(
      dueScheduleAction(schedule, at('2026-12-07T07:58:00Z'), at('2026-12-07T07:59:00Z')),
    ).toBeUndefined();
    expect(dueScheduleAction(schedule, at('2026-12-07T07:59:00Z'), at('2026-12-07T08:00:00Z'))).toBe('start');
    // The window's start is excluded: the firing was acted on by the window before.
    expect(
      dueScheduleAction(schedule, at('2026-12-07T08:00:00Z'), at('2026-12-07T08:01:00Z')),
    ).toBeUndefined();
    expect(dueScheduleAction(schedule, at('2026-12-07T19:59:30Z'), at('2026-12-07T20:00:10Z'))).toBe('stop');
    // A window holding both (the agent was busy): the later one wins.
    expect(dueScheduleAction(schedule, at('2026-12-07T07:00:00Z'), at('2026-12-07T21:00:00Z'))).toBe('stop');
    expect(dueScheduleAction(schedule, at('2026-12-07T19:00:00Z'), at('2026-12-08T09:00:00Z'))).toBe('start');
    // At the same minute, the stop wins.
    expect(
      dueScheduleAction(
        { start: '0 8 * * *', stop: '0 8 * * *', timeZone: 'UTC' },
        at('2026-12-07T07:59:00Z'),
        at('2026-12-07T08:00:00Z'),
      ),
    ).toBe('stop');
    expect(
      dueScheduleAction(
        { stop: '*/5 * * * *', timeZone: 'UTC' },
        at('2026-12-07T08:04:00Z'),
        at('2026-12-07T08:05:00Z'),
      ),
    ).toBe('stop');
  });

  it('is validated by the gateway route schema: a bad expression or zone names the field', () => {
    const table = (schedule: unknown) => ({
      version: 1,
      routes: [
        {
          id: 'r',
          hostname: 'app.example.com',
          backend: { url: 'http://web:80' },
          wake: { container: 'web', schedule },
        },
      ],
    });
    const parsed = routingTableSchema.parse(table({ start: '0 8 * * *' }));
    expect(parsed.routes[0]?.wake?.schedule).toEqual({ start: '0 8 * * *', timeZone: 'UTC' });
    const issues = (schedule: unknown) => {
      const result = routingTableSchema.safeParse(table(schedule));
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ start: '0 8 * *' })).toEqual([
      expect.stringMatching(
        /^routes\.0\.wake\.schedule\.start: "0 8 \* \*" is not a 5-field cron expression/,
      ),
    ]);
    expect(issues({ stop: '0 0 * * *', timeZone: 'Nowhere' })).toEqual([
      expect.stringMatching(/^routes\.0\.wake\.schedule\.timeZone: "Nowhere" is not an IANA time zone/),
    ]);
    expect(issues({ timeZone: 'UTC' })).toEqual([
      'routes.0.wake.schedule: a schedule needs a start or a stop',
    ]);
  });
});
