import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { commandOf, isAlive } from '../harness/os-processes.js';
import { waitFor } from '../harness/wait-for.js';
import { type SecondDockerEngine, startSecondDockerEngine } from './second-docker-engine.js';

// An engine of its own: this test stops it, which would fail any other test file using it.
const NAME = 'docker36';

const bystanders: number[] = [];
let engine: SecondDockerEngine | undefined;
afterAll(async () => {
  for (const pid of bystanders) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  await engine?.stop();
});

describe('second docker engine', () => {
  it('starts over pid files a killed engine left, whose pids now belong to other processes', async () => {
    engine = await startSecondDockerEngine({ name: NAME });
    await engine.kill9();
    // The machine went on, and the dead engine's pids went to unrelated processes.
    const bystander = spawn('tail', ['-f', '/dev/null'], { stdio: 'ignore' });
    bystanders.push(bystander.pid!);
    await waitFor(() => commandOf(bystander.pid!) === 'tail', { description: 'the bystander to run' });
    await writeFile(`/run/${NAME}.pid`, String(bystander.pid));
    await writeFile(`/run/${NAME}-exec/containerd/containerd.pid`, String(bystander.pid));

    engine = await startSecondDockerEngine({ name: NAME });

    expect(await engine.docker.ping()).toBeTruthy();
    const dockerdPid = Number(await readFile(`/run/${NAME}.pid`, 'utf8'));
    expect(commandOf(dockerdPid)).toBe('dockerd');
    // Nobody else's process was signalled.
    expect(isAlive(bystander.pid!)).toBe(true);
  });
});
