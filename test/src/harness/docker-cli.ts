import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The engine's own socket: in the socket-proxy project DOCKER_HOST is a proxy that allows no build. */
const { DOCKER_HOST: _proxy, ...engineEnv } = process.env;
export const ENGINE_ENV: NodeJS.ProcessEnv = engineEnv;

/** The `docker` command against the main engine's own socket (builds, tags, volumes); its stdout. */
export async function dockerCli(args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024, env: ENGINE_ENV });
  return stdout;
}
