import { checkCron, checkTimeZone } from '../gateway/wake-schedule.js';
import type { BoolDialect } from './booleans.js';
import { parseDuration } from './duration.js';
import { splitList } from './lists.js';
import { type Check, checkLabel, labelError, labelWarning, ok, refuse } from './problems.js';
import type { LabelValue } from './route-draft.js';
import type { LabelProblem, WakeSpec } from './types.js';

/** Label keys of wake on request (after `tunnelfleet.` or `tunnelfleet.<route>.`). */
export const WAKE_KEYS = [
  'wake',
  'idle_timeout',
  'start_timeout',
  'health_path',
  'depends_on',
  'redirect_path',
  'schedule.start',
  'schedule.stop',
  'schedule.timezone',
] as const;
export type WakeKey = (typeof WAKE_KEYS)[number];

const DEFAULT_START_TIMEOUT_SECONDS = 60;
const MAX_START_TIMEOUT_SECONDS = 3_600;
const MAX_IDLE_TIMEOUT_SECONDS = 30 * 86_400;
const MAX_DEPENDENCIES = 20;
const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const NANOS_PER_SECOND = 1_000_000_000n;

function seconds(raw: string, min: number, max: number): Check<number> {
  const parsed = parseDuration(raw);
  if (!parsed.ok) return parsed;
  if (parsed.value % NANOS_PER_SECOND !== 0n) return refuse('is not a whole number of seconds');
  const value = Number(parsed.value / NANOS_PER_SECOND);
  if (value < min || value > max) return refuse(`is out of range (${min}s to ${max}s)`);
  return ok(value);
}

function urlPath(raw: string): Check<string> {
  const path = raw.trim();
  if (!path.startsWith('/')) return refuse('is not a path (it must start with "/")');
  if (path.length > 1024) return refuse('is longer than 1024 characters');
  if (/[\s"<>\\]/.test(path) || path.startsWith('//')) return refuse('is not a plain URL path');
  return ok(path);
}

function dependencies(raw: string, own: string | undefined): Check<string[]> {
  const names = splitList(raw);
  if (names.length > MAX_DEPENDENCIES)
    return refuse(`names ${names.length} containers (at most ${MAX_DEPENDENCIES})`);
  const bad = names.find((name) => !CONTAINER_NAME.test(name));
  if (bad !== undefined)
    return refuse(`has ${JSON.stringify(bad.slice(0, 80))}, which is not a container name`);
  if (own !== undefined && names.includes(own)) return refuse('names the container itself');
  return ok([...new Set(names)]);
}

/**
 * The wake settings of one route, when `wake` is true. Wake needs an HTTP service: the gateway
 * probes it and proxies to it. Settings without `wake=true` are ignored with a warning.
 */
export function buildWake(
  fields: Partial<Record<WakeKey, LabelValue>>,
  options: { dialect: BoolDialect; service: string | undefined; containerName: string | undefined },
  problems: LabelProblem[],
): WakeSpec | undefined {
  const enabled = fields.wake ? options.dialect.read(fields.wake.value) : false;
  if (fields.wake && enabled === undefined) {
    problems.push(
      labelError({ ...fields.wake, reason: `is not a boolean (use ${options.dialect.spellings})` }),
    );
    return undefined;
  }
  if (!enabled) {
    for (const key of WAKE_KEYS) {
      const field = fields[key];
      if (key !== 'wake' && field)
        problems.push(
          labelWarning({ ...field, reason: 'is ignored: wake on request is off (set wake=true)' }),
        );
    }
    return undefined;
  }
  if (options.service !== undefined && !/^https?:\/\//.test(options.service)) {
    problems.push(
      labelError({
        ...fields.wake!,
        reason: `needs an http:// or https:// service (the route's is "${options.service}")`,
      }),
    );
    return undefined;
  }
  const read = <T>(key: WakeKey, check: (raw: string) => Check<T>) => {
    const field = fields[key];
    return field === undefined || field.value.trim() === '' ? undefined : checkLabel(field, check, problems);
  };
  const spec: WakeSpec = {
    startTimeoutSeconds:
      read('start_timeout', (raw) => seconds(raw, 1, MAX_START_TIMEOUT_SECONDS)) ??
      DEFAULT_START_TIMEOUT_SECONDS,
    idleTimeoutSeconds: read('idle_timeout', (raw) => seconds(raw, 0, MAX_IDLE_TIMEOUT_SECONDS)) ?? 0,
    dependsOn: read('depends_on', (raw) => dependencies(raw, options.containerName)) ?? [],
    redirectPath: read('redirect_path', urlPath) ?? '/',
  };
  const healthPath = read('health_path', urlPath);
  if (healthPath !== undefined) spec.healthPath = healthPath;
  const start = read('schedule.start', checkCron);
  const stop = read('schedule.stop', checkCron);
  const timeZone = read('schedule.timezone', checkTimeZone);
  if (start !== undefined || stop !== undefined)
    spec.schedule = {
      ...(start !== undefined ? { start } : {}),
      ...(stop !== undefined ? { stop } : {}),
      timeZone: timeZone ?? 'UTC',
    };
  else if (fields['schedule.timezone'] && timeZone !== undefined)
    problems.push(
      labelWarning({
        ...fields['schedule.timezone'],
        reason: 'is ignored: there is no schedule.start or schedule.stop',
      }),
    );
  return spec;
}
