import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What `deploy/build-app.sh` stages is what the images carry (both the in-Docker build and
 * `build-images.sh --local` use it): the product's modules with their production dependencies,
 * and no spec, fixture or benchmark, nor anything that needs a package the image does not have.
 * Run after `pnpm build` (the script needs the workspace built).
 */

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const stage = mkdtempSync(join(tmpdir(), 'tunnelfleet-build-app-'));

/** Every file under `dir`, relative to it, `/`-separated. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1));
}

/** What the package's production build is made of: `dist/<path>.js` for every non-spec source. */
function productModules(pkg: string): string[] {
  return filesUnder(`${root}${pkg}/src`)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => `dist/${file.replace(/\.ts$/, '.js')}`)
    .sort();
}

/** The packages a compiled module imports (static, re-export, side-effect and dynamic imports). */
function importedPackages(source: string): string[] {
  const specifiers = [
    ...source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((match) => match[1]!);
  return specifiers
    .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:'))
    .filter((specifier) => !builtinModules.includes(specifier))
    .map((specifier) =>
      specifier
        .split('/')
        .slice(0, specifier.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

/** A staged workspace package: its files, and the packages each of its modules imports. */
function stagedPackage(dir: string) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  const files = filesUnder(dir).filter((file) => !file.startsWith('node_modules/'));
  const imports = new Map(
    files
      .filter((file) => file.endsWith('.js'))
      .map((file) => [file, importedPackages(readFileSync(join(dir, file), 'utf8'))]),
  );
  return { files: files.sort(), imports, dependencies: Object.keys(manifest.dependencies ?? {}) };
}

beforeAll(async () => {
  for (const pkg of ['master', 'agent']) {
    await run('bash', [`${root}deploy/build-app.sh`, pkg, join(stage, pkg)], { maxBuffer: 16 * 1024 * 1024 });
  }
}, 300_000);
afterAll(() => rmSync(stage, { recursive: true, force: true }));

describe.each(['master', 'agent'])('deploy/build-app.sh %s', (pkg) => {
  const common = () =>
    join(stage, pkg, 'node_modules/.pnpm/@tunnelfleet+common@file+common/node_modules/@tunnelfleet/common');

  it("stages exactly the product's modules, for the app and for @tunnelfleet/common", () => {
    expect(stagedPackage(join(stage, pkg)).files).toEqual(['package.json', ...productModules(pkg)].sort());
    expect(stagedPackage(common()).files).toEqual(['package.json', ...productModules('common')].sort());
  });

  it('holds neither the test package nor vitest', () => {
    const installed = readdirSync(join(stage, pkg, 'node_modules/.pnpm'));
    expect(installed.filter((name) => /^(@tunnelfleet\+test|vitest)@/.test(name))).toEqual([]);
  });

  it('has every module import only production dependencies of its package', () => {
    for (const dir of [join(stage, pkg), common()]) {
      const { imports, dependencies } = stagedPackage(dir);
      const outside = [...imports].flatMap(([file, packages]) =>
        packages.filter((name) => !dependencies.includes(name)).map((name) => `${file} imports ${name}`),
      );
      expect(outside).toEqual([]);
    }
    // The scan sees imports at all: the app's own dependencies show up in it.
    const seen = new Set([...stagedPackage(join(stage, pkg)).imports.values()].flat());
    expect([...seen].sort()).toEqual(expect.arrayContaining(['@tunnelfleet/common', 'zod']));
  });
});

describe('deploy/build-app.sh master: the dashboard', () => {
  it("carries the dashboard's built assets, exactly those of the build and no source", () => {
    const staged = join(
      stage,
      'master/node_modules/.pnpm/@tunnelfleet+dashboard@file+dashboard/node_modules/@tunnelfleet/dashboard',
    );
    const built = filesUnder(`${root}dashboard/dist`).map((file) => `dist/${file}`);
    expect(built).toContain('dist/index.html');
    expect(stagedPackage(staged).files).toEqual(['package.json', ...built].sort());
  });
});
