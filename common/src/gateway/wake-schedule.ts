import { CronExpressionParser } from 'cron-parser';
import { type Check, ok, refuse } from '../labels/problems.js';

/**
 * Start and stop schedules of a waking container: standard 5-field cron expressions (minute hour
 * day-of-month month day-of-week, as crontab(5): `0 8 * * 1-5` is 08:00 on weekdays) read in an
 * IANA time zone (UTC unless given). The label parser checks them, the gateway route carries them
 * and the agent, the only Docker client, acts on them.
 */
export interface WakeSchedule {
  /** When the container is started (its dependencies first), as a request would wake it. */
  start?: string;
  /** When it is stopped and remembered as sleeping, as an idle stop does. */
  stop?: string;
  timeZone: string;
}

const CRON_FIELDS = 5;
const MAX_CRON_CHARS = 200;

/** A 5-field cron expression, normalised to single spaces; the reason completes `"<value>" …`. */
export function checkCron(raw: string): Check<string> {
  const fields = raw.trim().split(/\s+/);
  if (raw.length > MAX_CRON_CHARS) return refuse(`is longer than ${MAX_CRON_CHARS} characters`);
  if (fields.length !== CRON_FIELDS || fields[0] === '')
    return refuse(
      `is not a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. "0 8 * * 1-5"); it has ${fields[0] === '' ? 0 : fields.length}`,
    );
  const value = fields.join(' ');
  try {
    // cron-parser reads 5 fields as minute first (the seconds are 0).
    CronExpressionParser.parse(value, { tz: 'UTC' }).next();
  } catch (error) {
    return refuse(
      `is not a valid cron expression (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  return ok(value);
}

/** An IANA time zone name (`Europe/Paris`, `UTC`). */
export function checkTimeZone(raw: string): Check<string> {
  const value = raw.trim();
  try {
    if (value === '' || !/^[A-Za-z0-9_+\-/]{1,64}$/.test(value)) throw new RangeError('bad');
    new Intl.DateTimeFormat('en', { timeZone: value });
  } catch {
    return refuse('is not an IANA time zone (e.g. "Europe/Paris" or "UTC")');
  }
  return ok(value);
}

/** The last time `cron` fires at or before `at`, read in `timeZone`. */
export function lastFireTime(cron: string, timeZone: string, at: Date): Date {
  // prev() is strictly before its current date: one millisecond later makes `at` itself count.
  return CronExpressionParser.parse(cron, { currentDate: new Date(at.getTime() + 1), tz: timeZone })
    .prev()
    .toDate();
}

/**
 * What a schedule asks for in the window `(from, to]`: the action whose time came last, or nothing
 * when neither came. A start and a stop at the same minute: the stop wins (nothing runs that was
 * not asked to).
 */
export function dueScheduleAction(
  schedule: WakeSchedule,
  from: Date,
  to: Date,
): 'start' | 'stop' | undefined {
  const inWindow = (cron: string | undefined) => {
    if (cron === undefined) return undefined;
    const fired = lastFireTime(cron, schedule.timeZone, to).getTime();
    return fired > from.getTime() ? fired : undefined;
  };
  const start = inWindow(schedule.start);
  const stop = inWindow(schedule.stop);
  if (stop !== undefined && (start === undefined || stop >= start)) return 'stop';
  return start !== undefined ? 'start' : undefined;
}
