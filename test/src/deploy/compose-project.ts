import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { HarnessError } from '../harness/harness-error.js';

const run = promisify(execFile);

export interface ComposeProject {
  name: string;
  /** `docker-compose <args>` for this project; rejects with its output on a non-zero exit. */
  compose(args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** `docker-compose exec -T <service> <command>`: resolves with the exit code and output. */
  exec(service: string, command: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** ID of the service's container. */
  containerId(service: string): Promise<string>;
  /** `down -v` and the project directory removed. */
  destroy(): Promise<void>;
}

/** Debian's docker-compose (1.29) reads the compose files as they are; nothing else is needed. */
export async function requireDockerCompose(): Promise<void> {
  try {
    await run('docker-compose', ['version']);
  } catch {
    throw new HarnessError(
      'docker-compose not found (Debian package docker-compose): run bash scripts/provision, or apt-get install docker-compose',
    );
  }
}

/**
 * One compose project from a repository compose file, with its own `.env` in a private project
 * directory, exactly as an operator has it next to the file.
 */
export function composeProject(options: {
  file: string;
  name: string;
  env: Record<string, string>;
}): ComposeProject {
  const dir = mkdtempSync(join(tmpdir(), `${options.name}-`));
  writeFileSync(
    join(dir, '.env'),
    `${Object.entries(options.env)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );
  const base = ['-p', options.name, '--project-directory', dir, '-f', options.file];
  const compose = async (args: string[]) => {
    try {
      return await run('docker-compose', [...base, ...args], { maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string; message: string };
      throw new HarnessError(
        `docker-compose ${args.join(' ')} failed: ${failed.stderr || failed.stdout || failed.message}`,
      );
    }
  };
  return {
    name: options.name,
    compose,
    async exec(service, command) {
      try {
        const { stdout, stderr } = await run('docker-compose', [...base, 'exec', '-T', service, ...command]);
        return { code: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code?: number; stdout?: string; stderr?: string };
        if (typeof failed.code !== 'number') throw error;
        return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
      }
    },
    async containerId(service) {
      const id = (await compose(['ps', '-q', service])).stdout.trim();
      if (!id) throw new HarnessError(`compose project ${options.name} has no ${service} container`);
      return id;
    },
    async destroy() {
      await compose(['down', '-v', '--remove-orphans', '-t', '5']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
