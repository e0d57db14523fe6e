import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';
import { HarnessError } from './harness-error.js';
import { waitFor } from './wait-for.js';

/**
 * The permission flags of tecnativa/docker-socket-proxy: each opens one section of the Docker API
 * to GET/HEAD; `POST` additionally allows every other method on the open sections.
 */
const DOCKER_API_SECTIONS = [
  'AUTH',
  'BUILD',
  'COMMIT',
  'CONFIGS',
  'CONTAINERS',
  'DISTRIBUTION',
  'EVENTS',
  'EXEC',
  'GRPC',
  'IMAGES',
  'INFO',
  'NETWORKS',
  'NODES',
  'PING',
  'PLUGINS',
  'SECRETS',
  'SERVICES',
  'SESSION',
  'SWARM',
  'SYSTEM',
  'TASKS',
  'VERSION',
  'VOLUMES',
] as const;

type DockerApiSection = (typeof DOCKER_API_SECTIONS)[number];
type DockerSocketProxyPermission = DockerApiSection | 'POST';

interface DockerSocketProxyOptions {
  /** What the proxy lets through; everything else is answered 403. */
  permissions: readonly DockerSocketProxyPermission[];
  /** The engine's unix socket. */
  socketPath?: string;
}

export interface DockerSocketProxyHandle {
  readonly port: number;
  /** `tcp://127.0.0.1:<port>`, ready for `DOCKER_HOST`. */
  readonly dockerHost: string;
  /** `http://127.0.0.1:<port>`, for raw requests. */
  readonly url: string;
  /** SIGTERM and wait for the exit. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const DEFAULT_SOCKET_PATH = '/var/run/docker.sock';
const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 10_000;
const OUTPUT_TAIL_CHARS = 2_000;

const live = new Set<ChildProcess>();
const configDirs = new Set<string>();
let exitHookInstalled = false;

/**
 * haproxy configuration with the semantics of tecnativa/docker-socket-proxy (the proxy the
 * deployment puts between the agent and the engine): a request passes only if its method is
 * GET/HEAD or POST is granted, and its path (URL-decoded, optionally version-prefixed) starts
 * with a granted section; anything else is answered 403.
 */
export function dockerSocketProxyConfig(options: {
  permissions: readonly DockerSocketProxyPermission[];
  port: number;
  socketPath: string;
}): string {
  const granted = new Set(options.permissions);
  const sections = DOCKER_API_SECTIONS.filter((section) => granted.has(section));
  return [
    'global',
    '    maxconn 1000',
    // Linux haproxy binds with SO_REUSEPORT: without this, a second proxy given the same free
    // port would share it silently instead of failing and retrying.
    '    noreuseport',
    '',
    'defaults',
    '    mode http',
    '    timeout connect 10s',
    '    timeout http-request 10s',
    '    timeout http-keep-alive 10s',
    '    timeout client 10m',
    '    timeout server 10m',
    '',
    'backend engine',
    `    server engine ${options.socketPath}`,
    '',
    // An idle event stream is cut by `timeout server` (not `timeout tunnel`: the stream is an
    // ordinary chunked response), so the events have a backend where the engine may stay silent.
    'backend engine_events',
    '    timeout server 24h',
    `    server engine ${options.socketPath}`,
    '',
    'frontend docker_api',
    `    bind ${HOST}:${options.port}`,
    // METH_GET is GET or HEAD.
    ...(granted.has('POST') ? [] : ['    http-request deny deny_status 403 unless METH_GET']),
    ...sections.map(
      (section) => `    http-request allow if { path,url_dec -m reg -i ${sectionPattern(section)} }`,
    ),
    '    http-request deny deny_status 403',
    `    use_backend engine_events if { path,url_dec -m reg -i ${sectionPattern('EVENTS')} }`,
    '    default_backend engine',
    '',
  ].join('\n');
}

/** The path prefix of a section, with or without an API version, as tecnativa matches it. */
function sectionPattern(section: DockerApiSection): string {
  return `^(/v[\\d.]+)?/${section === 'PING' ? '_ping' : section.toLowerCase()}`;
}

/**
 * Starts Debian's `haproxy` (installed by scripts/provision) on a free loopback port as a
 * permission-filtering proxy in front of the engine's unix socket, like the production socket
 * proxy. Resolves once it answers HTTP.
 */
export async function startDockerSocketProxy(
  options: DockerSocketProxyOptions,
): Promise<DockerSocketProxyHandle> {
  await assertHaproxyInstalled();
  const socketPath = options.socketPath ?? DEFAULT_SOCKET_PATH;
  const socket = await stat(socketPath).catch(() => undefined);
  if (!socket?.isSocket()) {
    throw new HarnessError(`No Docker engine socket at ${socketPath}: run bash scripts/provision`);
  }
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), 'tunnelfleet-socket-proxy-'));
  configDirs.add(dir);
  const configFile = join(dir, 'haproxy.cfg');

  // haproxy cannot report a port 0 binding: take a port the OS just freed, retry if someone took it.
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort(HOST);
    await writeFile(
      configFile,
      dockerSocketProxyConfig({ permissions: options.permissions, port, socketPath }),
    );
    try {
      child = await launch(configFile, port);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= START_ATTEMPTS) throw error;
    }
  }

  const proc = child;
  return {
    port,
    dockerHost: `tcp://${HOST}:${port}`,
    url: `http://${HOST}:${port}`,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        proc.kill('SIGTERM');
        await exited;
      }
      configDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

class PortTakenError extends Error {}

async function launch(configFile: string, port: number): Promise<ChildProcess> {
  // -db: stay in the foreground, so the process is ours to stop. Not -q: it hides bind errors.
  const child = spawn('haproxy', ['-db', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    // Any HTTP answer (a 403 too, when PING is not granted) means haproxy is listening.
    const state = await waitFor(
      async () => {
        if (exited) return 'exited';
        const response = await fetch(`http://${HOST}:${port}/_ping`);
        await response.body?.cancel();
        return 'ready';
      },
      { description: `haproxy on port ${port} to answer`, timeoutMs: START_TIMEOUT_MS, intervalMs: 20 },
    );
    if (state === 'exited') throw new Error('it exited');
  } catch (error) {
    child.kill('SIGKILL');
    if (/address already in use|cannot bind socket/i.test(output))
      throw new PortTakenError(`port ${port} taken`);
    throw new HarnessError(
      `haproxy did not start on port ${port} (${(error as Error).message}); its output:\n${output}`,
    );
  }
  return child;
}

let installedCheck: Promise<void> | undefined;

function assertHaproxyInstalled(): Promise<void> {
  installedCheck ??= promisify(execFile)('haproxy', ['-v']).then(
    () => undefined,
    (error: NodeJS.ErrnoException) => {
      installedCheck = undefined;
      throw new HarnessError(
        error.code === 'ENOENT'
          ? 'haproxy not found: run bash scripts/provision'
          : `haproxy -v failed (${error.message}): run bash scripts/provision`,
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
    for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
  });
}
