import { describe, expect, it } from 'vitest';
import { runLabelsCheck } from './labels-check.js';

/** Runs the check in this process with `stdin` as standard input; collects what it writes. */
async function check(argv: string[], stdin = '') {
  let stdout = '';
  let stderr = '';
  const code = await runLabelsCheck(argv, {
    stdin: (async function* () {
      yield new TextEncoder().encode(stdin);
    })(),
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

describe('runLabelsCheck (the checker in-process, as tunnelfleet labels runs it)', () => {
  it('reads standard input and writes the report to the given stdout', async () => {
    const result = await check(
      ['check'],
      'tunnelfleet.enable=true\ntunnelfleet.hostname=app.example.com\ntunnelfleet.service=http://web:80\n',
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('1 container, 1 route, 0 invalid, 0 errors, 0 warnings');
  });

  it('exits 1 on label errors and 2 on usage errors, written to the given stderr', async () => {
    expect((await check(['check', '--json'], 'tunnelfleet.enable=true\n')).code).toBe(1);
    const usage = await check(['chek']);
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toContain('tunnelfleet-labels: unknown command "chek"');
  });
});
