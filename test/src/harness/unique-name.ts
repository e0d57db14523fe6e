import { randomBytes } from 'node:crypto';

/**
 * A name no parallel test run uses (containers, networks, queues, temp files):
 * `<prefix>-<pid>-<random>`, lower case so Docker accepts it.
 */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`.toLowerCase();
}
