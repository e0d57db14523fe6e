import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const commonDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(commonDir, 'dist/cli/tunnelfleet-labels.js');
const tsc = join(commonDir, '../node_modules/typescript/bin/tsc');
let workDir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a real process, feeding `stdin` through a pipe. */
function run(args: string[], stdin = ''): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

const inspect = [
  {
    Name: '/web',
    Config: {
      Labels: {
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'App.example.com',
        'com.docker.compose.service': 'web',
      },
      ExposedPorts: { '8080/tcp': {} },
    },
  },
  {
    Name: '/legacy',
    Config: {
      Labels: {
        'dockflare.enable': 'true',
        'dockflare.hostname': 'old.example.com',
        'dockflare.service': 'http://legacy:80',
      },
    },
  },
  { Name: '/plain', Config: { Labels: null } },
];

beforeAll(() => {
  // The test runs the compiled CLI, so it must be current.
  execFileSync(process.execPath, [tsc, '-b', commonDir], { stdio: 'inherit' });
  workDir = mkdtempSync(join(tmpdir(), 'tunnelfleet-labels-'));
}, 120_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('tunnelfleet-labels check', () => {
  it('reads docker inspect JSON from stdin and prints a table per container', async () => {
    const result = await run(['check'], JSON.stringify(inspect));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Container web\n');
    expect(result.stdout).toMatch(/default\s+tunnelfleet\s+app\.example\.com\s+-\s+http:\/\/web:8080\s+ok/);
    expect(result.stdout).toMatch(/dockflare\s+dockflare\s+old\.example\.com\s+-\s+http:\/\/legacy:80\s+ok/);
    expect(result.stdout).toContain('Container plain\n  not enabled');
    expect(result.stdout).toContain('3 containers, 2 routes, 0 invalid, 0 errors, 0 warnings');
  });

  it('--json prints the parse results, one per container', async () => {
    const result = await run(['check', '--json', '-'], JSON.stringify(inspect[0]));
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      {
        container: 'web',
        enabled: true,
        routes: [
          {
            key: 'default',
            source: 'tunnelfleet',
            hostname: 'app.example.com',
            service: 'http://web:8080',
            originRequest: {},
            dns: true,
            cleanup: true,
          },
        ],
        invalidRoutes: [],
        problems: [],
      },
    ]);
  });

  it('reads key=value lines from a file and exits 1 on label errors', async () => {
    const file = join(workDir, 'labels.env');
    writeFileSync(
      file,
      [
        '# compose labels',
        '- "tunnelfleet.enable=true"',
        'tunnelfleet.hostname=exa mple.com',
        'tunnelfleet.service=http://web:80',
        'tunnelfleet.hostnme=x',
        '',
      ].join('\n'),
    );
    const result = await run(['check', file]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      'error    tunnelfleet.hostname: "exa mple.com" is not a valid hostname (label "exa mple" has a space)',
    );
    expect(result.stdout).toContain(
      'warning  tunnelfleet.hostnme: is not a known key; ignored (did you mean "tunnelfleet.hostname"?)',
    );
    expect(result.stdout).toMatch(/default\s+tunnelfleet\s+exa mple\.com\s+-\s+-\s+invalid/);
    expect(result.stdout).toContain('1 container, 0 routes, 1 invalid, 1 error, 1 warning');
  });

  it('warnings alone exit 0', async () => {
    const result = await run(['check'], 'tunnelfleet.hostname=app.example.com\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('tunnelfleet.enable: is not set');
  });

  it.each([
    [['check'], 'not json or lines', 'line 1 is not key=value'],
    [['check'], '{"Config": 5}', 'container 0 has no .Config object (expected docker inspect output)'],
    [['check'], '[{"Config": {"Labels": "x"}}]', 'container 0 has .Config.Labels that is not an object'],
    [['check'], '{broken', 'input is not valid JSON'],
    [['check'], '  \n', 'input is empty'],
    [['check', '/nonexistent/labels.env'], '', 'cannot read /nonexistent/labels.env'],
    [['chek'], '', 'unknown command "chek"'],
    [['check', '--yaml'], '', 'unknown option "--yaml"'],
    [['check', 'a', 'b'], '', 'give at most one FILE'],
  ])('%j with bad input exits 2 and says why', async (args, stdin, message) => {
    const result = await run(args, stdin);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(message);
  });

  it('--help prints the usage and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'Usage: tunnelfleet-labels check [--json] [--allow-service KIND]... [--require-access]\n' +
        '         [--dockflare-prefix PREFIX] [--labelgate-prefix PREFIX] [FILE|-]',
    );
  });
});
