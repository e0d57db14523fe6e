import { execFile, spawn } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { HarnessError } from './harness-error.js';
import { isAlive, pidFrom } from './os-processes.js';
import { waitFor } from './wait-for.js';

// Controls the machine's main Docker engine, for the tests of the `disruptive` project only:
// every other Docker test running at that moment would fail during the outage.
const DOCKER_PID_FILE = '/var/run/docker.pid';
const CONTAINERD_PID_FILE = '/var/run/docker/containerd/containerd.pid';
const DOCKERD_LOG = '/var/log/dockerd.log';
const DOCKER_NETWORK_STORE = '/var/lib/docker/network';

const run = promisify(execFile);

/**
 * Sends `signal` to dockerd (SIGKILL: as a crash would, its containerd goes with it) and returns
 * a function that waits until both are gone. Throws before signalling if no dockerd runs.
 */
export async function signalDockerd(signal: 'SIGKILL' | 'SIGTERM'): Promise<() => Promise<void>> {
  const dockerdPid = await pidFrom(DOCKER_PID_FILE);
  if (dockerdPid === undefined || !isAlive(dockerdPid)) {
    throw new HarnessError(`no running dockerd found in ${DOCKER_PID_FILE}`);
  }
  const containerdPid = await pidFrom(CONTAINERD_PID_FILE);
  process.kill(dockerdPid, signal);
  return async function waitUntilGone() {
    await waitFor(() => !isAlive(dockerdPid), { description: 'dockerd to exit', timeoutMs: 30_000 });
    // Starting again before containerd is gone would race for its socket.
    if (containerdPid !== undefined) {
      await waitFor(() => !isAlive(containerdPid), { description: 'containerd to exit', timeoutMs: 30_000 });
    }
  };
}

/** Starts dockerd the way scripts/provision does, after removing the pid files a crash leaves. */
export async function startDockerd(docker: Docker): Promise<void> {
  await rm(DOCKER_PID_FILE, { force: true });
  await rm(CONTAINERD_PID_FILE, { force: true });
  const log = await open(DOCKERD_LOG, 'a');
  try {
    spawn('dockerd', [], { detached: true, stdio: ['ignore', log.fd, log.fd] }).unref();
  } finally {
    await log.close();
  }
  await waitFor(() => docker.ping().then(() => true), {
    description: 'dockerd to answer again',
    timeoutMs: 30_000,
  });
}

/**
 * Puts the engine's networking back to how dockerd leaves it after its first start on a fresh
 * machine: no network store and no `docker0`, so dockerd creates the default bridge anew, whose
 * IPAM config then has a `Subnet` and no `Gateway`, with `docker0` down until a container attaches.
 * Every user network and container of the engine is gone afterwards.
 */
export async function restartDockerdAsFresh(docker: Docker): Promise<void> {
  const waitUntilGone = await signalDockerd('SIGTERM');
  await waitUntilGone();
  await rm(DOCKER_NETWORK_STORE, { recursive: true, force: true });
  await run('ip', ['link', 'del', 'docker0']).catch((error: { stderr?: string }) => {
    if (!/Cannot find device/.test(error.stderr ?? '')) throw error;
  });
  await startDockerd(docker);
}
