import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandOf, describeProcess, isAlive, killAndWait, pidOfRunning } from './os-processes.js';
import { waitFor } from './wait-for.js';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

/**
 * A `sleep` whose child has exited and is never reaped: `sh` starts a short `sleep` in the
 * background, prints its pid and becomes the long `sleep` (exec), which never waits for children.
 * The short one outlives the exec, so it is the long one's child when it exits, and stays a
 * zombie, as a killed dockerd does until its parent reaps it.
 */
async function parentOfZombie(): Promise<{ parent: number; zombie: number }> {
  const child = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  started.push(child.pid!);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  const zombie = Number(line.toString().trim());
  await waitFor(() => commandOf(child.pid!) === 'sleep', { description: 'sh to become sleep' });
  return { parent: child.pid!, zombie };
}

describe('os processes', () => {
  it('counts a zombie as gone, though the kernel still knows its pid', async () => {
    const { parent, zombie } = await parentOfZombie();
    await waitFor(() => !isAlive(zombie), { description: 'the background child to exit' });
    // The pid still answers signal 0: only its state says it is dead.
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(isAlive(parent)).toBe(true);
    expect(describeProcess(zombie)).toBe(`pid ${zombie} is gone`);
  });

  it('kills a process and returns once it is gone; names what a live one is doing', async () => {
    const { parent } = await parentOfZombie();
    // Asleep in the kernel once it runs `sleep` (on a loaded machine it may first be running).
    const described = await waitFor(
      () => {
        const text = describeProcess(parent);
        return text.includes('is S (sleeping)') ? text : undefined;
      },
      { description: 'the sleep to be asleep' },
    );
    expect(described).toMatch(new RegExp(`^pid ${parent} \\(sleep\\) is S \\(sleeping\\), waiting in \\S+$`));
    await killAndWait(parent, 'the sleep', 10_000);
    // Gone, though this process (its parent) may not have reaped it yet.
    expect(isAlive(parent)).toBe(false);
  });

  it('trusts a pid file only while it names the program that wrote it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pid-file-'));
    try {
      const file = join(dir, 'engine.pid');
      const tail = spawn('tail', ['-f', '/dev/null'], { stdio: 'ignore' });
      started.push(tail.pid!);
      await waitFor(() => commandOf(tail.pid!) === 'tail', { description: 'tail to run' });
      await writeFile(file, `${tail.pid}\n`);

      expect(await pidOfRunning(file, { command: 'tail', marker: '/dev' })).toBe(tail.pid);
      // The same pid, as a killed engine's pid file would name it once the pid was reused.
      expect(await pidOfRunning(file, { command: 'dockerd', marker: '/dev' })).toBeUndefined();
      // The same program, started for another engine (another path).
      expect(await pidOfRunning(file, { command: 'tail', marker: '/de' })).toBeUndefined();
      expect(await pidOfRunning(file, { command: 'tail', marker: '/run/docker7-exec' })).toBeUndefined();

      await killAndWait(tail.pid!, 'the tail', 10_000);
      expect(await pidOfRunning(file, { command: 'tail', marker: '/dev' })).toBeUndefined();
      expect(
        await pidOfRunning(join(dir, 'missing.pid'), { command: 'tail', marker: '/dev' }),
      ).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
