import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { HarnessError } from './harness-error.js';
import { waitFor } from './wait-for.js';

export interface RedisServerOptions {
  /** Persist with an append-only file in the server's temp dir, so `restart()` keeps the data. */
  appendonly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. */
  extraArgs?: string[];
  /** Listen on this port and fail if it is taken. Default: a free port, retried if taken. */
  port?: number;
}

export interface RedisServerHandle {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** SIGTERM and wait for exit; the data dir stays until this process exits, so `restart()` works. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash, for fault tests. */
  kill9(): Promise<void>;
  /** Start again on the same port (stops it first if it is running). */
  restart(): Promise<void>;
  /** Clients connected right now, not counting the one that asks. */
  connectionCount(): Promise<number>;
  /**
   * Why the server is gone if it exited without being asked to (its exit code and output), for
   * the error of whatever then cannot reach it; undefined while it runs or after a requested stop.
   */
  unexpectedExit(): string | undefined;
}

const HOST = '127.0.0.1';
const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL_CHARS = 2_000;

/** Every server this process started, killed when it exits so no test leaks a redis-server. */
const live = new Set<RedisProcess>();
const dataDirs = new Set<string>();
let exitHookInstalled = false;

/**
 * Starts a private `redis-server` on a free loopback port with its own temp dir and no
 * persistence unless asked. Resolves once it answers PING.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  await assertRedisServerInstalled();
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'tunnelfleet-redis-'));
  dataDirs.add(dir);
  const args = (port: number) => [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendonly ? 'yes' : 'no',
    '--daemonize',
    'no',
    '--logfile',
    '',
    ...(options.extraArgs ?? []),
  ];

  // redis-server cannot listen on port 0: take a port the OS just freed, retry if someone else took it.
  let port = 0;
  let child: RedisProcess | undefined;
  for (let attempt = 1; child === undefined; attempt++) {
    port = options.port ?? (await freePort(HOST));
    try {
      child = await launch(args(port), port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= START_ATTEMPTS || options.port !== undefined)
        throw error;
    }
  }

  let current: RedisProcess | undefined = child;
  const signal = async (sig: NodeJS.Signals) => {
    const proc = current;
    current = undefined;
    if (proc === undefined || !proc.running()) return;
    proc.kill(sig);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await proc.exited;
    clearTimeout(timer);
  };

  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    stop: () => signal('SIGTERM'),
    kill9: () => signal('SIGKILL'),
    async restart() {
      await signal('SIGTERM');
      current = await launch(args(port), port);
    },
    connectionCount: () =>
      withClient(port, async (client) => Number(await client.call('CLIENT', 'LIST').then(countLines)) - 1),
    unexpectedExit: () => current?.unexpectedExit(),
  };
}

class PortTakenError extends HarnessError {}

interface RedisProcess {
  kill(signal: NodeJS.Signals): void;
  running(): boolean;
  unexpectedExit(): string | undefined;
  readonly exited: Promise<void>;
}

/**
 * A test process killed by a signal (a vitest worker timing out, say) runs no exit handler, and
 * its redis-server would live on. So redis-server runs under this shell, which kills it when our
 * end of the shell's stdin closes: the kernel closes it however this process dies.
 */
const WATCHDOG_SCRIPT = [
  'exec 3<&0',
  'redis-server "$@" </dev/null &',
  'redis=$!',
  'echo "redis-pid $redis"',
  '{ cat <&3 >/dev/null; kill -9 "$redis" 2>/dev/null; } &',
  'guard=$!',
  'wait "$redis"; code=$?',
  'kill "$guard" 2>/dev/null',
  'exit "$code"',
].join('\n');

async function launch(args: string[], port: number): Promise<RedisProcess> {
  const shell = spawn('sh', ['-c', WATCHDOG_SCRIPT, 'redis-watchdog', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  let redisPid: number | undefined;
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    redisPid ??= Number(/^redis-pid (\d+)$/m.exec(output)?.[1]) || undefined;
  };
  shell.stdout.on('data', collect);
  shell.stderr.on('data', collect);
  let exited = false;
  let exitCode: number | null = null;
  const proc: RedisProcess = {
    kill: (signal) => {
      if (redisPid !== undefined && !exited) process.kill(redisPid, signal);
    },
    running: () => !exited,
    unexpectedExit: () =>
      exited ? `redis-server exited on its own (code ${exitCode}); its output:\n${output}` : undefined,
    exited: new Promise((resolve) => {
      shell.once('exit', (code) => {
        exited = true;
        exitCode = code;
        live.delete(proc);
        // The guard is gone: closing its stdin now only ends its orphaned `cat`.
        shell.stdin.end();
        resolve();
      });
    }),
  };
  live.add(proc);

  try {
    const state = await waitFor(
      async () => {
        if (exited) return 'exited';
        // Another test's server may hold the port while ours is still failing to bind it: only our
        // own process answering counts. (Taking theirs for ours leaves a master whose Redis goes
        // away when that test ends.)
        if (redisPid === undefined) return false;
        return (await withClient(port, serverPid)) === redisPid ? 'ready' : false;
      },
      {
        description: `redis-server on port ${port} to answer PING`,
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 20,
      },
    );
    if (state === 'exited') throw new Error('it exited');
  } catch (error) {
    proc.kill('SIGKILL');
    shell.stdin.end();
    if (/Address already in use/i.test(output)) throw new PortTakenError(`port ${port} taken`);
    throw new HarnessError(
      `redis-server did not start on port ${port} (${(error as Error).message}); its output:\n${output}`,
    );
  }
  return proc;
}

async function serverPid(client: Redis): Promise<number | undefined> {
  const info = await client.info('server');
  return Number(/^process_id:(\d+)/m.exec(info)?.[1]) || undefined;
}

async function withClient<T>(port: number, use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // Connection errors surface through connect(); without a listener ioredis prints them.
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    client.disconnect();
  }
}

function countLines(reply: unknown): number {
  return String(reply)
    .split('\n')
    .filter((line) => line.trim() !== '').length;
}

let installedCheck: Promise<void> | undefined;

function assertRedisServerInstalled(): Promise<void> {
  installedCheck ??= promisify(execFile)('redis-server', ['--version']).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => {
      installedCheck = undefined;
      throw new HarnessError(
        error.code === 'ENOENT'
          ? 'redis-server not found: run bash scripts/provision'
          : `redis-server --version failed (${error.message}): run bash scripts/provision`,
      );
    },
  );
  return installedCheck;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const proc of live) proc.kill('SIGKILL');
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });
}
