import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `tunnelfleet labels …` is common's label checker (`tunnelfleet-labels`), run as it is: same
 * arguments, output and exit codes (0 no label errors, 1 label errors, 2 usage or input error).
 */
export function runLabelsCli(args: string[]): Promise<number> {
  const script = fileURLToPath(
    new URL('./cli/tunnelfleet-labels.js', import.meta.resolve('@tunnelfleet/common')),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
