import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { connectDockerEngine } from '../harness/docker-engine.js';
import { withFileLock } from '../harness/file-lock.js';
import { HarnessError } from '../harness/harness-error.js';
import {
  describeProcess,
  isAlive,
  killAndWait,
  pidOfRunning,
  run,
  runPipeline,
} from '../harness/os-processes.js';
import { ensureTestImages, TEST_IMAGE_TAGS } from '../harness/test-images.js';
import { waitFor } from '../harness/wait-for.js';

interface SecondDockerEngineOptions {
  /**
   * Names the engine's socket, directories and pid file (`/run/<name>.sock`, …). A test that
   * restarts its engine takes a name of its own, so no other test file loses its engine meanwhile.
   * Default `docker2`.
   */
  name?: string;
}

export interface SecondDockerEngine {
  readonly name: string;
  /** `unix:///run/<name>.sock`, the agent's DOCKER_HOST. */
  readonly dockerHost: string;
  readonly docker: Docker;
  /** The engine's own /16 (e.g. `10.223.0.0/16`): every network the harness makes there is inside. */
  readonly addressRange: string;
  /**
   * Creates a user network with an explicit /24 subnet of this engine's own range. The engine
   * would otherwise draw from Docker's default pools, as the main engine does, and hand out a
   * subnet the host already routes to the main engine's bridge of the same range.
   */
  createNetwork(name: string): Promise<Docker.Network>;
  /**
   * An agent's CLOUDFLARED_NETWORK and, before the agent makes it itself from Docker's default
   * pools, its cloudflared metrics network (`<network>-metrics`, internal, with the agent's label;
   * the agent uses a network that exists). Both in this engine's range: the default pools are the
   * main engine's too, both engines once handed out 172.19.0.0/16, and the host routes such an
   * address to one engine only. Host B's probe of its own cloudflared can then reach a main-engine
   * container of the same address, and report its connector (the likely cause of a rollout test
   * that waited on a connector of another tunnel).
   */
  createAgentNetworks(network: string): Promise<void>;
  /** SIGTERM dockerd and wait until it is gone (its containers stop with it). */
  stop(): Promise<void>;
  /** SIGKILL dockerd and its containerd, as a crash would. */
  kill9(): Promise<void>;
  /** Start dockerd again (after `stop`/`kill9`, or stop it first if it runs) and wait for it. */
  restart(): Promise<void>;
}

const DOCKERD_START_TIMEOUT_MS = 60_000;
const LAUNCH_ATTEMPTS = 3;
/** A killed engine process normally goes at once; one stuck in the kernel (I/O, a mount) takes longer. */
const KILL_TIMEOUT_MS = 60_000;
const NAME = /^docker([2-9]|[123][0-9])$/;

/**
 * A second Docker engine beside the main one, for a second simulated host (see
 * shared/notes/docker-engine.md): own socket, data-root, exec-root and pid file, no iptables.
 * Its default bridge is an interface of its own (`tfbr-<name>`), not `--bridge none`: dockerd
 * started with `--bridge none` deletes the host's `docker0`, which the main engine still uses.
 * Reused when it already runs (by this or an earlier test run); started otherwise. The test
 * images are copied from the main engine with `docker save | docker -H … load`.
 */
export async function startSecondDockerEngine(
  options: SecondDockerEngineOptions = {},
): Promise<SecondDockerEngine> {
  const name = options.name ?? 'docker2';
  if (!NAME.test(name)) throw new HarnessError(`second engine name must be docker2…docker39, got "${name}"`);
  const paths = enginePaths(name);
  const dockerHost = `unix://${paths.socket}`;
  const main = await connectDockerEngine();
  await ensureTestImages(main);

  await withFileLock(join(tmpdir(), `tunnelfleet-${name}-start.lock`), async () => {
    if (!(await answers(paths.socket))) await launchDockerd(paths);
    await copyTestImages(main, dockerHost, new Docker({ socketPath: paths.socket }));
  });
  const docker = new Docker({ socketPath: paths.socket });
  const secondOctet = subnetRange(name);

  const stop = async (signal: NodeJS.Signals) => {
    const dockerdPid = await enginePid(paths, 'dockerd');
    const containerdPid = await enginePid(paths, 'containerd');
    if (dockerdPid === undefined) return;
    process.kill(dockerdPid, signal);
    if (signal === 'SIGKILL' && containerdPid !== undefined) process.kill(containerdPid, 'SIGKILL');
    await waitFor(() => !isAlive(dockerdPid), {
      description: `${name} dockerd (pid ${dockerdPid}) to exit`,
      timeoutMs: KILL_TIMEOUT_MS,
      intervalMs: 100,
    }).catch((error: Error) => {
      throw new HarnessError(`${error.message}; ${describeProcess(dockerdPid)}`);
    });
  };

  /** A user network with an explicit /24 of this engine's range. */
  async function createNetwork(
    networkName: string,
    { internal = false, labels = {} }: { internal?: boolean; labels?: Record<string, string> } = {},
  ): Promise<Docker.Network> {
    // Random /24s, retried on overlap: several test files may create networks at once.
    for (let attempt = 1; ; attempt++) {
      const subnet = `10.${secondOctet}.${Math.floor(Math.random() * 255)}.0/24`;
      try {
        return await docker.createNetwork({
          Name: networkName,
          Driver: 'bridge',
          CheckDuplicate: true,
          Internal: internal,
          Labels: labels,
          IPAM: { Config: [{ Subnet: subnet }] },
        });
      } catch (error) {
        if (attempt >= 20 || !/overlap/i.test((error as Error).message)) throw error;
      }
    }
  }

  return {
    name,
    dockerHost,
    docker,
    addressRange: `10.${secondOctet}.0.0/16`,
    createNetwork: (networkName) => createNetwork(networkName),
    async createAgentNetworks(network) {
      await createNetwork(network);
      await createNetwork(`${network}-metrics`, {
        internal: true,
        labels: { 'tunnelfleet.managed': 'network' },
      });
    },
    stop: () => stop('SIGTERM'),
    kill9: () => stop('SIGKILL'),
    async restart() {
      await stop('SIGTERM');
      await launchDockerd(paths);
    },
  };
}

interface EnginePaths {
  name: string;
  socket: string;
  dataRoot: string;
  execRoot: string;
  pidFile: string;
  containerdPidFile: string;
  log: string;
  bridge: string;
  /** Address of the engine's default bridge; user networks take other /24s of the same /16. */
  bridgeAddress: string;
}

function enginePaths(name: string): EnginePaths {
  const execRoot = `/run/${name}-exec`;
  return {
    name,
    socket: `/run/${name}.sock`,
    dataRoot: `/var/lib/${name}`,
    execRoot,
    pidFile: `/run/${name}.pid`,
    containerdPidFile: join(execRoot, 'containerd/containerd.pid'),
    log: `/var/log/${name}.log`,
    bridge: `tfbr-${name}`,
    bridgeAddress: `10.${subnetRange(name)}.255.1/24`,
  };
}

/** Second octet of the engine's own 10.x.0.0/16 range (the main engine uses 172.17+ and 192.168). */
function subnetRange(name: string): number {
  return 200 + Number(name.slice('docker'.length));
}

/**
 * The engine's live dockerd or containerd, by its pid file. A pid file a killed engine left behind
 * may name another process by now, another engine's dockerd included: that one is not ours.
 */
function enginePid(paths: EnginePaths, command: 'dockerd' | 'containerd'): Promise<number | undefined> {
  const file = command === 'dockerd' ? paths.pidFile : paths.containerdPidFile;
  return pidOfRunning(file, { command, marker: paths.execRoot });
}

async function answers(socketPath: string): Promise<boolean> {
  try {
    await new Docker({ socketPath }).ping();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts dockerd and waits until it answers. On a loaded machine its managed containerd sometimes
 * never comes up (dockerd logs "timeout waiting for containerd to start" and exits): that attempt's
 * processes are killed and dockerd is started again, up to LAUNCH_ATTEMPTS times.
 */
async function launchDockerd(paths: EnginePaths): Promise<void> {
  const failures: string[] = [];
  for (let attempt = 1; attempt <= LAUNCH_ATTEMPTS; attempt++) {
    const failure = await launchDockerdOnce(paths);
    if (failure === undefined) return;
    failures.push(`attempt ${attempt}: ${failure}`);
    await killEngineProcesses(paths).catch((error: Error) => {
      throw new HarnessError(
        `${paths.name} dockerd failed to start:\n${failures.join('\n')}\n${error.message}`,
      );
    });
  }
  const tail = (await readFile(paths.log, 'utf8').catch(() => '')).slice(-2_000);
  throw new HarnessError(
    `${paths.name} dockerd did not answer on ${paths.socket} (log: ${paths.log}):\n${failures.join('\n')}\n${tail}`,
  );
}

/** One start of dockerd; resolves undefined once it answers, or the reason it did not. */
async function launchDockerdOnce(paths: EnginePaths): Promise<string | undefined> {
  await removeStalePidFiles(paths);
  await ensureBridge(paths);
  const log = openSync(paths.log, 'a');
  let exited: string | undefined;
  try {
    const child = spawn(
      'dockerd',
      [
        '-H',
        `unix://${paths.socket}`,
        '--data-root',
        paths.dataRoot,
        '--exec-root',
        paths.execRoot,
        '--pidfile',
        paths.pidFile,
        '--bridge',
        paths.bridge,
        '--iptables=false',
      ],
      { detached: true, stdio: ['ignore', log, log] },
    );
    child.once('error', (error) => {
      exited = `could not run dockerd: ${error.message}`;
    });
    child.once('exit', (code, signal) => {
      exited = `dockerd exited (${signal ?? `code ${code}`})`;
    });
    child.unref();
  } finally {
    closeSync(log);
  }
  try {
    // A dockerd that exited will not answer: the attempt ends at once, with its reason.
    await waitFor(async () => exited !== undefined || (await answers(paths.socket)), {
      description: `${paths.name} dockerd to answer`,
      timeoutMs: DOCKERD_START_TIMEOUT_MS,
      intervalMs: 100,
    });
    return exited;
  } catch (error) {
    return exited ?? (error as Error).message;
  }
}

/**
 * A killed engine leaves its pid files behind, and dockerd refuses to start over them ("pid file
 * found"), even when the pid they name is another process's by now.
 */
async function removeStalePidFiles(paths: EnginePaths): Promise<void> {
  if ((await enginePid(paths, 'dockerd')) === undefined) await rm(paths.pidFile, { force: true });
  if ((await enginePid(paths, 'containerd')) === undefined)
    await rm(paths.containerdPidFile, { force: true });
}

/** SIGKILLs a failed attempt's dockerd and containerd and waits until both are gone. */
async function killEngineProcesses(paths: EnginePaths): Promise<void> {
  for (const command of ['dockerd', 'containerd'] as const) {
    const pid = await enginePid(paths, command);
    if (pid !== undefined) await killAndWait(pid, `${paths.name} ${command}`, KILL_TIMEOUT_MS);
  }
}

async function ensureBridge(paths: EnginePaths): Promise<void> {
  const exists = await run('ip', ['link', 'show', paths.bridge]).then(
    () => true,
    () => false,
  );
  if (exists) return;
  await run('ip', ['link', 'add', paths.bridge, 'type', 'bridge']);
  await run('ip', ['addr', 'add', paths.bridgeAddress, 'dev', paths.bridge]);
  await run('ip', ['link', 'set', paths.bridge, 'up']);
}

/** Copies the images whose id differs from the main engine's (save/load keeps ids and labels). */
async function copyTestImages(main: Docker, dockerHost: string, second: Docker): Promise<void> {
  const stale: string[] = [];
  for (const tag of TEST_IMAGE_TAGS) {
    const wanted = (await main.getImage(tag).inspect()).Id;
    const present = await second
      .getImage(tag)
      .inspect()
      .then((info) => info.Id)
      .catch(() => undefined);
    if (present !== wanted) stale.push(tag);
  }
  if (stale.length === 0) return;
  await runPipeline(['docker', 'save', ...stale], ['docker', '-H', dockerHost, 'load', '--quiet']).catch(
    (error: Error) => {
      throw new HarnessError(`loading the test images into ${dockerHost} failed: ${error.message}`);
    },
  );
}
