import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { HarnessError } from '../harness/harness-error.js';
import { waitFor } from '../harness/wait-for.js';

interface NodeServiceOptions {
  /** Names the service in messages, e.g. `master` or `agent host-b`. */
  label: string;
  /** Built entry point, e.g. `master/dist/main.js`. */
  script: string;
  /** The whole environment of the process (PATH is added). */
  env: Record<string, string>;
  /** stdout and stderr of every run are appended here: the secret scan reads it. */
  logFile: string;
  /** Truthy once the service serves; polled after each start. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

/** A Tunnelfleet process under test: started, stopped, crashed and restarted at will. */
export interface NodeService {
  readonly label: string;
  readonly logFile: string;
  pid(): number | undefined;
  running(): boolean;
  /** Spawns the process and waits until `ready`; fails with the log tail if it exits first. */
  start(): Promise<void>;
  /** SIGTERM (SIGKILL after 15 s) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit: a crash. */
  kill9(): Promise<void>;
  /** `stop` (if running) then `start`. */
  restart(): Promise<void>;
  /** Everything the process wrote in all its runs. */
  logs(): Promise<string>;
}

const STOP_TIMEOUT_MS = 15_000;
const LOG_TAIL_CHARS = 4_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function createNodeService(options: NodeServiceOptions): NodeService {
  if (!existsSync(options.script))
    throw new HarnessError(`${options.script} is missing: run pnpm build first`);
  installExitHook();
  let child: ChildProcess | undefined;

  const logs = () => readFile(options.logFile, 'utf8').catch(() => '');
  const isRunning = (proc: ChildProcess | undefined): proc is ChildProcess =>
    proc !== undefined && proc.exitCode === null && proc.signalCode === null;

  const signal = async (sig: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!isRunning(proc)) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(sig);
    const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };

  const start = async () => {
    if (isRunning(child)) throw new HarnessError(`${options.label} is already running`);
    const log = openSync(options.logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(process.execPath, [options.script], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    child = proc;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    try {
      const outcome = await waitFor(
        async () => (!isRunning(proc) ? 'exited' : (await options.ready()) && 'ready'),
        {
          description: `${options.label} to be ready`,
          timeoutMs: options.readyTimeoutMs ?? 30_000,
          intervalMs: 50,
        },
      );
      if (outcome === 'exited') throw new Error(`it exited with ${proc.exitCode ?? proc.signalCode}`);
    } catch (error) {
      proc.kill('SIGKILL');
      const tail = (await logs()).slice(-LOG_TAIL_CHARS);
      throw new HarnessError(
        `${options.label} did not start: ${(error as Error).message}\nits log:\n${tail}`,
      );
    }
  };

  return {
    label: options.label,
    logFile: options.logFile,
    pid: () => child?.pid,
    running: () => isRunning(child),
    start,
    stop: () => signal('SIGTERM'),
    kill9: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      await start();
    },
    logs,
  };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test worker that dies must not leave masters or agents running.
  process.once('exit', () => {
    for (const proc of live) proc.kill('SIGKILL');
  });
}
