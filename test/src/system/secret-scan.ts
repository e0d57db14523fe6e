import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { decodeTunnelToken } from '../cloudflare-emulator/index.js';

/** A secret found where it must not be; names the secret by kind only, never by value. */
export interface SecretLeak {
  file: string;
  kind: string;
  /** Characters around the hit with the secret itself masked, to locate the logging call. */
  context: string;
}

/**
 * Secrets of one run by kind (`api key host-a`, `tunnel token …`). A tunnel token also counts
 * by its inner secret, so logging the decoded token is caught too.
 */
export class SecretRegistry {
  private readonly secrets = new Map<string, string>();

  add(kind: string, value: string): void {
    if (value.length < 8) return;
    this.secrets.set(value, kind);
    const decoded = decodeTunnelToken(value);
    if (decoded && decoded.s.length >= 8) this.secrets.set(decoded.s, `${kind} (inner secret)`);
  }

  get size(): number {
    return this.secrets.size;
  }

  /** Every occurrence of a registered secret in the given files. */
  async scan(files: readonly string[]): Promise<SecretLeak[]> {
    const leaks: SecretLeak[] = [];
    for (const file of files) {
      const text = await readFile(file, 'utf8').catch(() => '');
      for (const [value, kind] of this.secrets) {
        const at = text.indexOf(value);
        if (at < 0) continue;
        const context = `${text.slice(Math.max(0, at - 120), at)}<${kind}>${text.slice(at + value.length, at + value.length + 120)}`;
        leaks.push({ file: basename(file), kind, context });
      }
    }
    return leaks;
  }
}
