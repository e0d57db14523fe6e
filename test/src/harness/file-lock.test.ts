import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withFileLock } from './file-lock.js';
import { commandOf, isAlive, processIdentity } from './os-processes.js';
import { waitFor } from './wait-for.js';

const cleanups: Array<() => Promise<unknown> | undefined> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function lockPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'file-lock-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'the.lock');
}

describe('file lock', () => {
  it("takes over a dead owner's lock whose pid now belongs to another process", async () => {
    const lock = await lockPath();
    const bystander = spawn('tail', ['-f', '/dev/null'], { stdio: 'ignore' });
    cleanups.push(async () => (isAlive(bystander.pid!) ? bystander.kill('SIGKILL') : undefined));
    await waitFor(() => commandOf(bystander.pid!) === 'tail', { description: 'the bystander to run' });
    // What a killed test process left: its pid, reused since, and its own start time.
    const [pid, startTime] = processIdentity(bystander.pid!).split(' ');
    await mkdir(lock);
    await writeFile(join(lock, 'owner'), `${pid} ${Number(startTime) - 1}`);

    expect(await withFileLock(lock, async () => 'taken')).toBe('taken');
    expect(isAlive(bystander.pid!)).toBe(true);
  });
});
