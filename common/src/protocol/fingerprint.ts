import { createHash } from 'node:crypto';
import type { Container } from './container.js';
import { stableStringify } from './stable-stringify.js';

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Order-insensitive parts of a container put in a canonical order. */
function normalizeContainer(container: Container): Container {
  const networks: Container['networks'] = {};
  for (const name of Object.keys(container.networks).sort()) {
    const network = container.networks[name]!;
    networks[name] = { ipAddress: network.ipAddress, aliases: [...network.aliases].sort(compareText) };
  }
  const exposedPorts = [...container.exposedPorts].sort(
    (a, b) => a.port - b.port || compareText(a.protocol, b.protocol),
  );
  return { ...container, networks, exposedPorts };
}

/**
 * Stable hash of a snapshot's content: the same containers give the same fingerprint whatever the
 * order of containers, labels, networks, aliases or ports, so the master can skip a snapshot that
 * changes nothing. Format: `sha256:<64 hex>`.
 */
export function snapshotFingerprint(containers: readonly Container[]): string {
  const normalized = containers.map(normalizeContainer).sort((a, b) => compareText(a.id, b.id));
  return `sha256:${createHash('sha256').update(stableStringify(normalized)).digest('hex')}`;
}

export const FINGERPRINT_PATTERN = /^sha256:[0-9a-f]{64}$/;
