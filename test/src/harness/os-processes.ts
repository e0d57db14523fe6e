import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { HarnessError } from './harness-error.js';
import { waitFor } from './wait-for.js';

/**
 * Whether the process runs. A zombie (killed, not yet reaped by its parent) does not: it holds no
 * socket, file or lock any more, and waiting for it to vanish would wait on the parent instead.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !['Z', 'X'].includes(stateLetter(pid));
}

/** The pid a pid file names, or undefined when there is none (no file, empty, garbled). */
export async function pidFrom(file: string): Promise<number | undefined> {
  const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** A process's command name (`/proc/<pid>/comm`), or '' once its pid is free. */
export function commandOf(pid: number): string {
  return procFile(pid, 'comm');
}

/**
 * The live process a pid file names, if it is still the program that wrote it: `command` is its
 * command name, and one of its arguments is the path `marker` or a path inside it (an engine's own
 * exec-root, which its dockerd and its containerd's `--config` both name). Pids wrap (at
 * 32768 here), so a pid file left by a killed process may name an unrelated process by now, or
 * another engine's dockerd: neither may be waited on, signalled or kept as "running".
 */
export async function pidOfRunning(
  file: string,
  { command, marker }: { command: string; marker: string },
): Promise<number | undefined> {
  const pid = await pidFrom(file);
  if (pid === undefined || !isAlive(pid) || commandOf(pid) !== command) return undefined;
  const named = argumentsOf(pid).some((arg) => arg === marker || arg.startsWith(`${marker}/`));
  return named ? pid : undefined;
}

/**
 * Who a process is: its pid and its start time (clock ticks after boot, field 22 of
 * /proc/<pid>/stat). A pid is reused once freed; the pair names one process for the machine's
 * uptime. '' once the process is gone.
 */
export function processIdentity(pid: number): string {
  if (!isAlive(pid)) return '';
  const stat = procFile(pid, 'stat');
  // Fields after "pid (comm)" start at field 3, so field 22 is the 20th of them.
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return startTime ? `${pid} ${startTime}` : '';
}

/** A process's argv (`/proc/<pid>/cmdline`), or [] once its pid is free. */
function argumentsOf(pid: number): string[] {
  return procFile(pid, 'cmdline').split('\0').filter(Boolean);
}

/**
 * SIGKILLs `pid` and waits until it is gone. A process that outlives SIGKILL is stuck in the
 * kernel: the error says in which state and where, which is all a failed run can tell afterwards.
 */
export async function killAndWait(pid: number, what: string, timeoutMs: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitFor(() => !isAlive(pid), { description: `${what} (pid ${pid}) to exit`, timeoutMs }).catch(
    (error: Error) => {
      throw new HarnessError(`${error.message}; ${describeProcess(pid)}`);
    },
  );
}

/** State and kernel wait channel of a process, for an error message. */
export function describeProcess(pid: number): string {
  if (!isAlive(pid)) return `pid ${pid} is gone`;
  const state = /^State:\s*(.+)$/m.exec(procFile(pid, 'status'))?.[1] ?? 'unknown';
  return `pid ${pid} (${commandOf(pid)}) is ${state}, waiting in ${procFile(pid, 'wchan') || 'nothing'}`;
}

/** A file of /proc/<pid>, trimmed; '' once the process is gone. */
function procFile(pid: number, name: 'stat' | 'status' | 'comm' | 'wchan' | 'cmdline'): string {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The one-letter state in /proc/<pid>/stat: "pid (comm) S …", and comm may hold spaces. */
function stateLetter(pid: number): string {
  const stat = procFile(pid, 'stat');
  return stat.charAt(stat.lastIndexOf(')') + 2);
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
