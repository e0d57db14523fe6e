import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HarnessError } from './harness-error.js';
import { processIdentity } from './os-processes.js';
import { waitFor } from './wait-for.js';

const LOCK_TIMEOUT_MS = 180_000;
const UNOWNED_LOCK_STALE_MS = 10_000;
/** Holds the owner's process identity: `<pid> <start time>`. */
const OWNER_FILE = 'owner';

/**
 * Runs `task` while holding a lock shared by every process on this machine (a directory:
 * `mkdir` is atomic). A lock left by a process that died is taken over, even when its pid
 * belongs to another process by now: the lock names its owner by pid and start time.
 */
export async function withFileLock<T>(lockDir: string, task: () => Promise<T>): Promise<T> {
  await waitFor(() => tryAcquire(lockDir), {
    description: `lock ${lockDir} held by another process`,
    timeoutMs: LOCK_TIMEOUT_MS,
    intervalMs: 100,
  }).catch((error: Error) => {
    throw new HarnessError(error.message);
  });
  try {
    return await task();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function tryAcquire(lockDir: string): Promise<boolean> {
  try {
    await mkdir(lockDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (await isStale(lockDir)) await rm(lockDir, { recursive: true, force: true });
    return false;
  }
  await writeFile(join(lockDir, OWNER_FILE), processIdentity(process.pid));
  return true;
}

async function isStale(lockDir: string): Promise<boolean> {
  const owner = await readFile(join(lockDir, OWNER_FILE), 'utf8').catch(() => '');
  if (/^\d+ \d+$/.test(owner)) return processIdentity(Number(owner.split(' ')[0])) !== owner;
  // The owner names itself right after mkdir: without a name (or with a bare pid, as an older
  // harness wrote it), only an old lock is abandoned.
  const created = await stat(lockDir).then(
    (info) => info.mtimeMs,
    () => Date.now(),
  );
  return Date.now() - created > UNOWNED_LOCK_STALE_MS;
}
