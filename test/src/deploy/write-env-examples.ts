/**
 * Rewrites deploy/.env.*.example from the config specs:
 *   node test/dist/deploy/write-env-examples.js
 * env-examples.test.ts fails when the committed files differ from what this writes.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ENV_EXAMPLES } from './env-examples.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
for (const [path, render] of Object.entries(ENV_EXAMPLES)) {
  writeFileSync(`${root}${path}`, render());
  process.stdout.write(`wrote ${path}\n`);
}
