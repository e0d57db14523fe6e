/** One container's labels as the checker reads them. */
export interface ContainerLabels {
  name: string;
  labels: Record<string, string>;
  exposedPorts?: number[];
}

type LabelInput = { ok: true; containers: ContainerLabels[] } | { ok: false; error: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{"80/tcp": {}}` → [80]. */
function exposedPorts(value: unknown): number[] | undefined {
  if (!isRecord(value)) return undefined;
  const ports = Object.keys(value)
    .map((key) => /^(\d{1,5})(?:\/tcp)?$/.exec(key)?.[1])
    .filter((port): port is string => port !== undefined)
    .map(Number);
  return [...new Set(ports)];
}

function fromInspect(item: unknown, index: number): ContainerLabels | string {
  if (!isRecord(item)) return `container ${index} is not an object`;
  const config = item.Config;
  if (config === undefined && Object.values(item).every((v) => typeof v === 'string')) {
    // A bare label object, e.g. `docker inspect -f '{{json .Config.Labels}}'`.
    return { name: `container ${index}`, labels: item as Record<string, string> };
  }
  if (!isRecord(config)) return `container ${index} has no .Config object (expected docker inspect output)`;
  const labels = config.Labels ?? {};
  if (!isRecord(labels)) return `container ${index} has .Config.Labels that is not an object`;
  const name = typeof item.Name === 'string' ? item.Name.replace(/^\//, '') : `container ${index}`;
  const container: ContainerLabels = { name, labels: labels as Record<string, string> };
  const ports = exposedPorts(config.ExposedPorts);
  if (ports !== undefined) container.exposedPorts = ports;
  return container;
}

function fromJson(text: string): LabelInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      error: `input is not valid JSON (${error instanceof Error ? error.message : 'parse error'})`,
    };
  }
  const items = Array.isArray(parsed) ? parsed : [parsed];
  const containers: ContainerLabels[] = [];
  for (const [index, item] of items.entries()) {
    const container = fromInspect(item, index);
    if (typeof container === 'string') return { ok: false, error: container };
    containers.push(container);
  }
  return { ok: true, containers };
}

function fromLines(text: string, name: string): LabelInput {
  const labels: Record<string, string> = {};
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    // Compose list syntax (`- key=value`) and quoting are accepted so a compose snippet can be pasted.
    const line = raw
      .trim()
      .replace(/^-\s+/, '')
      .replace(/^(["'])(.*)\1$/, '$2');
    if (line === '' || line.startsWith('#')) continue;
    const equals = line.indexOf('=');
    if (equals <= 0) return { ok: false, error: `line ${index + 1} is not key=value` };
    labels[line.slice(0, equals).trim()] = line.slice(equals + 1);
  }
  return { ok: true, containers: [{ name, labels }] };
}

/** Reads `docker inspect` JSON (one container or an array) or `key=value` lines. */
export function readLabelInput(text: string, name: string): LabelInput {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, error: 'input is empty' };
  return trimmed.startsWith('[') || trimmed.startsWith('{') ? fromJson(trimmed) : fromLines(text, name);
}
