import { describe, expect, it } from 'vitest';
import { appLabels, expectedRoute } from '../../test/label-fixtures.js';
import { parseContainerLabels } from './parse-container-labels.js';

const base = appLabels('tunnelfleet');
const route = expectedRoute('default', 'tunnelfleet');
const messages = (labels: Record<string, string>, context = {}) =>
  parseContainerLabels(labels, context).problems.map((p) => `${p.severity} ${p.message}`);

describe('wake labels', () => {
  it('reads wake with its defaults, and every setting', () => {
    expect(parseContainerLabels({ ...base, 'tunnelfleet.wake': 'true' }).routes).toEqual([
      route({ wake: { startTimeoutSeconds: 60, idleTimeoutSeconds: 0, dependsOn: [], redirectPath: '/' } }),
    ]);
    const full = parseContainerLabels(
      {
        ...base,
        'tunnelfleet.wake': 'true',
        'tunnelfleet.idle_timeout': '1h',
        'tunnelfleet.start_timeout': '90',
        'tunnelfleet.health_path': '/healthz',
        'tunnelfleet.depends_on': 'db, cache,db',
        'tunnelfleet.redirect_path': '/dashboard',
      },
      { containerName: 'app' },
    );
    expect(full.problems).toEqual([]);
    expect(full.routes[0]?.wake).toEqual({
      startTimeoutSeconds: 90,
      idleTimeoutSeconds: 3600,
      dependsOn: ['db', 'cache'],
      healthPath: '/healthz',
      redirectPath: '/dashboard',
    });
  });

  it('keeps wake per route: a named route does not inherit the base route’s', () => {
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.wake': 'true',
      'tunnelfleet.api.hostname': 'api.example.com',
      'tunnelfleet.api.wake': 'true',
      'tunnelfleet.api.idle_timeout': '10m',
      'tunnelfleet.admin.hostname': 'admin.example.com',
    });
    const byKey = Object.fromEntries(result.routes.map((r) => [r.key, r.wake?.idleTimeoutSeconds]));
    expect(byKey).toEqual({ default: 0, api: 600, admin: undefined });
  });

  it('refuses bad values with the label and the reason, and the route is not published', () => {
    const cases: [Record<string, string>, string][] = [
      [{ 'tunnelfleet.wake': 'maybe' }, 'error tunnelfleet.wake: "maybe" is not a boolean'],
      [{ 'tunnelfleet.wake': 'true', 'tunnelfleet.start_timeout': '0s' }, 'is out of range (1s to 3600s)'],
      [
        { 'tunnelfleet.wake': 'true', 'tunnelfleet.idle_timeout': 'soon' },
        'tunnelfleet.idle_timeout: "soon" is not a duration',
      ],
      [
        { 'tunnelfleet.wake': 'true', 'tunnelfleet.health_path': 'healthz' },
        'is not a path (it must start with "/")',
      ],
      [
        { 'tunnelfleet.wake': 'true', 'tunnelfleet.redirect_path': '//evil.example' },
        'is not a plain URL path',
      ],
      [
        { 'tunnelfleet.wake': 'true', 'tunnelfleet.depends_on': 'db;rm -rf' },
        'which is not a container name',
      ],
      [{ 'tunnelfleet.wake': 'true', 'tunnelfleet.depends_on': 'db,app' }, 'names the container itself'],
      [
        { 'tunnelfleet.wake': 'true', 'tunnelfleet.service': 'tcp://db:5432' },
        'tunnelfleet.wake: "true" needs an http:// or https:// service (the route\'s is "tcp://db:5432")',
      ],
    ];
    for (const [labels, message] of cases) {
      const result = parseContainerLabels({ ...base, ...labels }, { containerName: 'app' });
      expect(result.routes, message).toEqual([]);
      expect(messages({ ...base, ...labels }, { containerName: 'app' }).join('\n')).toContain(message);
    }
  });

  it('warns about wake settings without wake=true and publishes the route as a plain one', () => {
    const labels = { ...base, 'tunnelfleet.idle_timeout': '1h' };
    expect(parseContainerLabels(labels).routes).toEqual([route()]);
    expect(messages(labels)).toEqual([
      'warning tunnelfleet.idle_timeout: "1h" is ignored: wake on request is off (set wake=true)',
    ]);
  });

  it("keeps a waking route's path regex: the gateway matches the same regex cloudflared does", () => {
    const withRegex = { ...base, 'tunnelfleet.wake': 'true', 'tunnelfleet.path': '/api|/v2' };
    expect(parseContainerLabels(withRegex).problems).toEqual([]);
    expect(parseContainerLabels(withRegex).routes[0]).toMatchObject({ path: '/api|/v2', wake: {} });
  });

  it('reads start and stop schedules (5-field cron, a time zone, UTC unless given), per route', () => {
    const result = parseContainerLabels({
      ...base,
      'tunnelfleet.wake': 'true',
      'tunnelfleet.schedule.start': ' 0  8 * * 1-5 ',
      'tunnelfleet.schedule.stop': '30 19 * * *',
      'tunnelfleet.schedule.timezone': 'Europe/Paris',
      'tunnelfleet.api.hostname': 'api.example.com',
      'tunnelfleet.api.wake': 'true',
      'tunnelfleet.api.schedule.stop': '0 0 * * *',
    });
    expect(result.problems).toEqual([]);
    const byKey = Object.fromEntries(result.routes.map((r) => [r.key, r.wake?.schedule]));
    expect(byKey).toEqual({
      default: { start: '0 8 * * 1-5', stop: '30 19 * * *', timeZone: 'Europe/Paris' },
      api: { stop: '0 0 * * *', timeZone: 'UTC' },
    });
  });

  it('refuses a bad schedule naming the label, and warns about one without wake=true', () => {
    const cases: [Record<string, string>, string][] = [
      [
        { 'tunnelfleet.schedule.start': '0 8 * *' },
        'error tunnelfleet.schedule.start: "0 8 * *" is not a 5-field cron expression (minute hour day-of-month month day-of-week, e.g. "0 8 * * 1-5"); it has 4',
      ],
      [
        { 'tunnelfleet.schedule.start': '0 0 8 * * *' },
        'error tunnelfleet.schedule.start: "0 0 8 * * *" is not a 5-field cron expression',
      ],
      [
        { 'tunnelfleet.schedule.stop': '61 * * * *' },
        'error tunnelfleet.schedule.stop: "61 * * * *" is not a valid cron expression',
      ],
      [
        { 'tunnelfleet.schedule.stop': '0 0 * * *', 'tunnelfleet.schedule.timezone': 'Mars/Olympus' },
        'error tunnelfleet.schedule.timezone: "Mars/Olympus" is not an IANA time zone',
      ],
    ];
    for (const [labels, message] of cases) {
      const all = { ...base, 'tunnelfleet.wake': 'true', ...labels };
      expect(parseContainerLabels(all).routes, message).toEqual([]);
      expect(messages(all).join('\n')).toContain(message);
    }
    expect(messages({ ...base, 'tunnelfleet.schedule.start': '0 8 * * *' })).toEqual([
      'warning tunnelfleet.schedule.start: "0 8 * * *" is ignored: wake on request is off (set wake=true)',
    ]);
    expect(messages({ ...base, 'tunnelfleet.wake': 'true', 'tunnelfleet.schedule.timezone': 'UTC' })).toEqual(
      [
        'warning tunnelfleet.schedule.timezone: "UTC" is ignored: there is no schedule.start or schedule.stop',
      ],
    );
    // `schedule` is a key, not a route name.
    expect(messages({ ...base, 'tunnelfleet.schedule.hostname': 'x.example.com' }).join('\n')).toContain(
      'tunnelfleet.schedule.hostname: is not a known key',
    );
  });
});
