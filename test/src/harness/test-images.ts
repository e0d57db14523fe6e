import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import { withFileLock } from './file-lock.js';
import { HarnessError } from './harness-error.js';

/** Scratch image: Debian's static busybox with its applet links, /tmp and a `nonroot` user (65532). */
export const TEST_BUSYBOX_IMAGE = 'tunnelfleet-test/busybox:latest';
/** busybox httpd on `$PORT` (default 80) answering every request with the container's hostname. */
export const TEST_WEB_IMAGE = 'tunnelfleet-test/web:latest';
/** The stand-in cloudflared of test/images/EDGE-PROTOCOL.md. */
export const TEST_CLOUDFLARED_IMAGE = 'tunnelfleet-test/cloudflared:latest';
/** The stand-in reporting another release in build_info: an image change a test can tell apart. */
export const TEST_CLOUDFLARED_NEXT_IMAGE = 'tunnelfleet-test/cloudflared:next';
export const TEST_CLOUDFLARED_NEXT_VERSION = '2099.1.0';
/** The stand-in that stays up and never becomes ready: a broken release, for rollouts that halt. */
export const TEST_CLOUDFLARED_NEVER_READY_IMAGE = 'tunnelfleet-test/cloudflared:never-ready';
/** The stand-in again, under the real name, so the agent's pull-if-missing path finds it locally. */
export const CLOUDFLARED_IMAGE = 'cloudflare/cloudflared:latest';
/** Every tag `ensureTestImages` makes (the real cloudflared's is apart: `ensureRealCloudflaredImage`). */
export const TEST_IMAGE_TAGS: readonly string[] = [
  TEST_BUSYBOX_IMAGE,
  TEST_WEB_IMAGE,
  TEST_CLOUDFLARED_IMAGE,
  TEST_CLOUDFLARED_NEXT_IMAGE,
  TEST_CLOUDFLARED_NEVER_READY_IMAGE,
  CLOUDFLARED_IMAGE,
];
/** The real cloudflared (see `ensureRealCloudflaredImage`), for contract tests of how the agent runs it. */
export const REAL_CLOUDFLARED_IMAGE = 'tunnelfleet-test/cloudflared-real:2023.7.3';
/** Where the real binary lives: `../shared/bin/` beside the repository (CI puts it there). */
export const REAL_CLOUDFLARED_BINARY = fileURLToPath(
  new URL('../../../../shared/bin/cloudflared-2023.7.3-linux-amd64', import.meta.url),
);

/**
 * Image label holding the hash of what an image was built from. Not under `tunnelfleet.`:
 * image labels are inherited by containers, and the agent reads `tunnelfleet.*` container labels.
 */
export const CONTENT_HASH_LABEL = 'org.tunnelfleet-test.content-hash';

const IMAGES_DIR = fileURLToPath(new URL('../../images/', import.meta.url));
const BUSYBOX_BINARY = '/bin/busybox';
/** Bump when the rootfs recipe below changes in a way the hashed inputs do not show. */
const ROOTFS_RECIPE_VERSION = '1';

interface ImageSpec {
  tags: string[];
  hash: string;
  build: (docker: Docker, spec: ImageSpec) => Promise<void>;
}

const ensured = new WeakMap<Docker, Promise<void>>();

/**
 * Builds the local test images on `docker` unless they are already there with the same content
 * hash. Safe to call from every test file at once: builds are serialized by a lock file, and each
 * image is checked again after the lock is taken.
 */
export function ensureTestImages(docker: Docker): Promise<void> {
  let pending = ensured.get(docker);
  if (pending === undefined) {
    pending = ensureAll(docker);
    ensured.set(docker, pending);
    // A failed attempt (engine down, say) must not stick: the next call tries again.
    pending.catch(() => ensured.delete(docker));
  }
  return pending;
}

async function ensureAll(docker: Docker): Promise<void> {
  await ensureSpecs(docker, await imageSpecs());
}

/**
 * Builds `REAL_CLOUDFLARED_IMAGE` from the real binary (`REAL_CLOUDFLARED_BINARY` unless told),
 * on top of the other test images. Apart from them: only the contract tests need it, and only they
 * fail (saying where the binary belongs) when it is missing.
 */
export async function ensureRealCloudflaredImage(
  docker: Docker,
  binary = REAL_CLOUDFLARED_BINARY,
): Promise<void> {
  const spec = await realCloudflaredSpec(binary);
  await ensureTestImages(docker);
  await ensureSpecs(docker, [spec]);
}

async function ensureSpecs(docker: Docker, specs: ImageSpec[]): Promise<void> {
  if (await allCurrent(docker, specs)) return;
  const lockName = `tunnelfleet-test-images-${hashOf(engineAddress(docker))}.lock`;
  await withFileLock(join(tmpdir(), lockName), async () => {
    for (const spec of specs) {
      if (!(await isCurrent(docker, spec))) await spec.build(docker, spec);
    }
  });
}

function engineAddress(docker: Docker): string {
  // Without options dockerode resolves the default socket lazily (socketPath is then a function).
  const modem = docker.modem as { socketPath?: unknown; host?: string; port?: number };
  if (typeof modem.socketPath === 'string') return modem.socketPath;
  return modem.host ? `${modem.host}:${modem.port}` : 'default';
}

async function busyboxBaseHash(): Promise<string> {
  const busybox = await readFile(BUSYBOX_BINARY).catch(() => {
    throw new HarnessError(`${BUSYBOX_BINARY} not found (Debian busybox-static): run bash scripts/provision`);
  });
  return hashOf(ROOTFS_RECIPE_VERSION, busybox, await hashDirectory(join(IMAGES_DIR, 'busybox')));
}

async function realCloudflaredSpec(binaryPath: string): Promise<ImageSpec> {
  const binary = await readFile(binaryPath).catch(() => {
    throw new HarnessError(
      `real cloudflared not found at ${binaryPath}: the contract tests need release 2023.7.3 ` +
        'there, in shared/bin/ beside the repository (see docs/development.md, "Test images")',
    );
  });
  const context = join(IMAGES_DIR, 'cloudflared-real');
  return {
    tags: [REAL_CLOUDFLARED_IMAGE],
    hash: hashOf(
      await busyboxBaseHash(),
      await hashDirectory(context),
      createHash('sha256').update(binary).digest('hex'),
    ),
    build: async (docker, spec) => {
      // The binary lives outside the repository: stage a context holding both.
      const staged = await mkdtemp(join(tmpdir(), 'tunnelfleet-cloudflared-real-'));
      try {
        await copyTree(context, staged);
        await copyFile(binaryPath, join(staged, 'cloudflared'));
        await chmod(join(staged, 'cloudflared'), 0o755);
        await buildFromDirectory(staged)(docker, spec);
      } finally {
        await rm(staged, { recursive: true, force: true });
      }
    },
  };
}

async function imageSpecs(): Promise<ImageSpec[]> {
  const baseHash = await busyboxBaseHash();
  return [
    { tags: [TEST_BUSYBOX_IMAGE], hash: baseHash, build: importBusyboxImage },
    {
      tags: [TEST_WEB_IMAGE],
      hash: hashOf(baseHash, await hashDirectory(join(IMAGES_DIR, 'web'))),
      build: buildFromContext('web'),
    },
    {
      tags: [TEST_CLOUDFLARED_IMAGE, CLOUDFLARED_IMAGE],
      hash: hashOf(baseHash, await hashDirectory(join(IMAGES_DIR, 'cloudflared'))),
      build: buildFromContext('cloudflared'),
    },
    {
      tags: [TEST_CLOUDFLARED_NEXT_IMAGE],
      hash: hashOf(
        baseHash,
        await hashDirectory(join(IMAGES_DIR, 'cloudflared')),
        TEST_CLOUDFLARED_NEXT_VERSION,
      ),
      build: buildFromContext('cloudflared', { STANDIN_VERSION: TEST_CLOUDFLARED_NEXT_VERSION }),
    },
    {
      tags: [TEST_CLOUDFLARED_NEVER_READY_IMAGE],
      // Built on the stand-in above (listed first, so it is current by then).
      hash: hashOf(
        baseHash,
        await hashDirectory(join(IMAGES_DIR, 'cloudflared')),
        await hashDirectory(join(IMAGES_DIR, 'cloudflared-never-ready')),
      ),
      build: buildFromContext('cloudflared-never-ready'),
    },
  ];
}

async function allCurrent(docker: Docker, specs: ImageSpec[]): Promise<boolean> {
  const current = await Promise.all(specs.map((spec) => isCurrent(docker, spec)));
  return current.every(Boolean);
}

async function isCurrent(docker: Docker, spec: ImageSpec): Promise<boolean> {
  for (const tag of spec.tags) {
    try {
      const info = await docker.getImage(tag).inspect();
      if (info.Config?.Labels?.[CONTENT_HASH_LABEL] !== spec.hash) return false;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return false;
      throw error;
    }
  }
  return true;
}

async function importBusyboxImage(docker: Docker, spec: ImageSpec): Promise<void> {
  const rootfs = await mkdtemp(join(tmpdir(), 'tunnelfleet-rootfs-'));
  try {
    await mkdir(join(rootfs, 'bin'));
    await copyFile(BUSYBOX_BINARY, join(rootfs, 'bin/busybox'));
    await chmod(join(rootfs, 'bin/busybox'), 0o755);
    for (const applet of await busyboxApplets()) {
      if (applet === 'bin/busybox') continue;
      await mkdir(join(rootfs, dirname(applet)), { recursive: true });
      await symlink('/bin/busybox', join(rootfs, applet));
    }
    await copyTree(join(IMAGES_DIR, 'busybox'), rootfs);
    for (const dir of ['root', 'home/nonroot', 'tmp', 'var/tmp'])
      await mkdir(join(rootfs, dir), { recursive: true });
    await chmod(join(rootfs, 'tmp'), 0o1777);
    await chmod(join(rootfs, 'var/tmp'), 0o1777);
    const [repo, tag] = splitTag(spec.tags[0]!);
    const stream = await docker.importImage(tarDirectory(rootfs), {
      repo,
      tag,
      changes: [
        `LABEL ${CONTENT_HASH_LABEL}=${spec.hash}`,
        'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
        'CMD ["/bin/sh"]',
      ],
    });
    await followToEnd(docker, stream, `import of ${spec.tags[0]}`);
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}

function buildFromContext(context: string, buildargs: Record<string, string> = {}) {
  return buildFromDirectory(join(IMAGES_DIR, context), buildargs);
}

function buildFromDirectory(dir: string, buildargs: Record<string, string> = {}) {
  return async (docker: Docker, spec: ImageSpec): Promise<void> => {
    const [first, ...others] = spec.tags;
    const stream = await docker.buildImage(tarDirectory(dir), {
      t: first,
      buildargs,
      labels: { [CONTENT_HASH_LABEL]: spec.hash },
      rm: true,
      forcerm: true,
    });
    await followToEnd(docker, stream, `build of ${first}`);
    for (const other of others) {
      const [repo, tag] = splitTag(other);
      await docker.getImage(first!).tag({ repo, tag });
    }
  };
}

async function busyboxApplets(): Promise<string[]> {
  const output = await run(BUSYBOX_BINARY, ['--list-full']);
  return output.split('\n').filter((line) => line.trim() !== '');
}

/** Docker reports build errors inside the progress stream, not as an HTTP status. */
function followToEnd(docker: Docker, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: Array<{ error?: string; stream?: string }>) => {
        const failed = output?.find((event) => event.error);
        if (error || failed) {
          const log = output?.map((event) => event.stream ?? '').join('') ?? '';
          reject(new HarnessError(`Docker ${what} failed: ${error?.message ?? failed?.error}\n${log}`));
        } else {
          resolve();
        }
      },
    );
  });
}

/** A tar stream of `dir` with root ownership, as a build context or an image rootfs. */
function tarDirectory(dir: string): Readable {
  const child = spawn('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-c', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return child.stdout;
}

async function copyTree(from: string, to: string): Promise<void> {
  for (const file of await listFiles(from)) {
    const target = join(to, relative(from, file));
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target);
    await chmod(target, (await stat(file)).mode & 0o777);
  }
}

/** Hash of every file's relative path, executable bit and content, in a stable order. */
async function hashDirectory(dir: string): Promise<string> {
  const files = (await listFiles(dir)).sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const executable = ((await stat(file)).mode & 0o111) !== 0;
    hash.update(`${relative(dir, file)}\0${executable ? 'x' : '-'}\0`);
    hash.update(await readFile(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

function hashOf(...parts: Array<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 32);
}

function splitTag(image: string): [string, string] {
  const at = image.lastIndexOf(':');
  return [image.slice(0, at), image.slice(at + 1)];
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}
