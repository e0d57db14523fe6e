import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `from | to` (argv arrays, no shell) and rejects with both stderrs if either fails. */
export function runPipeline(from: string[], to: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const [fromCommand, ...fromArgs] = from;
    const [toCommand, ...toArgs] = to;
    const producer = spawn(fromCommand!, fromArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const consumer = spawn(toCommand!, toArgs, { stdio: ['pipe', 'ignore', 'pipe'] });
    producer.stdout.pipe(consumer.stdin);
    let stderr = '';
    producer.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    consumer.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const codes: Array<number | null> = [];
    const done = (code: number | null) => {
      codes.push(code);
      if (codes.length < 2) return;
      if (codes.every((c) => c === 0)) resolve();
      else
        reject(new Error(`${from.join(' ')} | ${to.join(' ')} exited ${codes.join('/')}: ${stderr.trim()}`));
    };
    producer.once('error', reject);
    consumer.once('error', reject);
    producer.once('exit', done);
    consumer.once('exit', done);
  });
}

/** Runs a command (no shell) and rejects with its stderr when it fails. */
export async function run(command: string, args: string[]): Promise<string> {
  try {
    return (await promisify(execFile)(command, args)).stdout;
  } catch (error) {
    const { stderr, message } = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')}: ${stderr?.trim() || message}`);
  }
}
