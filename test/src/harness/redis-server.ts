import { type ChildProcess, execFile, spawn } from 'node:child_process';
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
}

const HOST = '127.0.0.1';
const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL_CHARS = 2_000;

/** Every server this process started, killed when it exits so no test leaks a redis-server. */
const live = new Set<ChildProcess>();
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
  let child: ChildProcess | undefined;
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort(HOST);
    try {
      child = await launch(args(port), port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= START_ATTEMPTS) throw error;
    }
  }

  let current: ChildProcess | undefined = child;
  const signal = async (sig: NodeJS.Signals) => {
    const proc = current;
    current = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(sig);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
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
  };
}

class PortTakenError extends Error {}

async function launch(args: string[], port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    live.delete(child);
  });
  child.once('error', () => {
    exited = true;
  });

  try {
    const state = await waitFor(
      async () => {
        if (exited) return 'exited';
        return (await withClient(port, (client) => client.ping())) === 'PONG' ? 'ready' : false;
      },
      {
        description: `redis-server on port ${port} to answer PING`,
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 20,
      },
    );
    if (state === 'exited') throw new Error('it exited');
  } catch (error) {
    child.kill('SIGKILL');
    if (/Address already in use/i.test(output)) throw new PortTakenError(`port ${port} taken`);
    throw new HarnessError(
      `redis-server did not start on port ${port} (${(error as Error).message}); its output:\n${output}`,
    );
  }
  return child;
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
    for (const child of live) child.kill('SIGKILL');
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });
}
