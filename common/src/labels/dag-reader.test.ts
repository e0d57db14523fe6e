import { describe, expect, it } from 'vitest';
import { parseContainerLabels } from './parse-container-labels.js';

const context = { containerName: 'Photos' };
const messages = (labels: Record<string, string>, ctx: { containerName?: string } = context) =>
  parseContainerLabels(labels, ctx).problems.map((p) => `${p.severity} ${p.message}`);

describe("The Awakening Gateway's dag.* labels", () => {
  it('read as they are into a route that wakes on request, on the same fields as Tunnelfleet’s', () => {
    const result = parseContainerLabels(
      {
        'dag.enabled': 'true',
        'dag.host': 'Photos.Example.com',
        'dag.target_port': '2342',
        'dag.start_timeout': '90s',
        'dag.idle_timeout': '1h',
        'dag.redirect_path': '/library',
        'dag.health_path': '/api/health',
        'dag.depends_on': 'photos-db,photos-cache',
      },
      context,
    );
    expect(result.problems).toEqual([]);
    expect(result.enabled).toBe(true);
    expect(result.routes).toEqual([
      {
        key: 'dag',
        source: 'dag',
        hostname: 'photos.example.com',
        service: 'http://photos:2342',
        originRequest: {},
        dns: true,
        cleanup: true,
        wake: {
          startTimeoutSeconds: 90,
          idleTimeoutSeconds: 3600,
          dependsOn: ['photos-db', 'photos-cache'],
          redirectPath: '/library',
          healthPath: '/api/health',
        },
      },
    ]);
  });

  it('takes DAG’s defaults: port 80, 60 s start timeout, never idle', () => {
    const [route] = parseContainerLabels(
      { 'dag.enabled': 'T', 'dag.host': 'app.example.com' },
      context,
    ).routes;
    expect(route?.service).toBe('http://photos:80');
    expect(route?.wake).toEqual({
      startTimeoutSeconds: 60,
      idleTimeoutSeconds: 0,
      dependsOn: [],
      redirectPath: '/',
    });
  });

  it('says what it ignores and why, and names the label of every error', () => {
    expect(
      messages({
        'dag.enabled': 'true',
        'dag.host': 'app.example.com',
        'dag.network': 'backend',
        'dag.icon': 'photo',
        'dag.idle_timout': '1h',
      }),
    ).toEqual([
      'warning dag.idle_timout: "1h" is not a DAG label Tunnelfleet reads; ignored (did you mean "dag.idle_timeout"?)',
      'warning dag.network: "backend" is ignored: the host\'s gateway reaches the container by name on the agent\'s CLOUDFLARED_NETWORK; attach the container to that network',
      'warning dag.icon: "photo" is ignored: Tunnelfleet has no status page to show it on',
    ]);
    const invalid = (labels: Record<string, string>) => {
      const result = parseContainerLabels(
        { 'dag.enabled': 'true', 'dag.host': 'app.example.com', ...labels },
        context,
      );
      expect(result.routes).toEqual([]);
      return result.problems.filter((p) => p.severity === 'error').map((p) => p.message);
    };
    expect(invalid({ 'dag.target_port': '70000' })).toEqual([
      'dag.target_port: "70000" is not a port (1 to 65535)',
    ]);
    expect(invalid({ 'dag.idle_timeout': 'soon' })[0]).toMatch(/^dag\.idle_timeout: "soon" /);
    expect(invalid({ 'dag.host': '' })[0]).toContain('dag.host');
    expect(messages({ 'dag.enabled': 'yes', 'dag.host': 'app.example.com' })).toEqual([
      'error dag.enabled: "yes" is not a boolean (use true/false, t/f, 1/0 (as Go reads them))',
    ]);
  });

  it('is off unless dag.enabled is true, and says so of its other labels', () => {
    const result = parseContainerLabels({ 'dag.enabled': 'false', 'dag.host': 'app.example.com' }, context);
    expect(result.enabled).toBe(false);
    expect(result.routes).toEqual([]);
    expect(messages({ 'dag.host': 'app.example.com' })).toEqual([
      'warning dag.host: "app.example.com" is ignored: dag.enabled is not true',
    ]);
  });

  it('yields to a tunnelfleet route of the same hostname', () => {
    const result = parseContainerLabels(
      {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'app.example.com',
        'tunnelfleet.service': 'http://photos:80',
        'dag.enabled': 'true',
        'dag.host': 'app.example.com',
      },
      context,
    );
    expect(result.routes.map((route) => route.source)).toEqual(['tunnelfleet']);
  });
});
