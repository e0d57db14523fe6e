import { type Check, ok, refuse } from './problems.js';

/**
 * Custom label prefixes a host runs its peer tool with: DockFlare's `LABEL_PREFIX` and Labelgate's
 * `LABELGATE_LABEL_PREFIX`. Set on the agent, sent with its registration, and used by the master
 * (and `tunnelfleet-labels check`) to read that host's labels. Stored normalized: with one trailing
 * dot, and absent when equal to the tool's own prefix.
 */
export interface LabelPrefixes {
  /** Read before `dockflare.` and `cloudflare.tunnel.`, key by key, as DockFlare does. */
  dockflare?: string;
  /** Read instead of `labelgate.`, as Labelgate does. */
  labelgate?: string;
}

export type LabelPrefixTool = keyof LabelPrefixes;

export const LABEL_PREFIX_MAX_LENGTH = 64;

/** The prefixes every host reads, whatever its settings: a custom prefix may overlap none of them. */
export const BUILT_IN_LABEL_PREFIXES = [
  'tunnelfleet.',
  'dockflare.',
  'cloudflare.tunnel.',
  'labelgate.',
  'dag.',
] as const;

const DEFAULT_OF: Record<LabelPrefixTool, string> = { dockflare: 'dockflare.', labelgate: 'labelgate.' };

/** Docker's and the image spec's own label namespaces: never a route source. */
const RESERVED_NAMESPACES = ['com.docker.', 'org.opencontainers.'];

const CHARSET = /^[A-Za-z0-9]([A-Za-z0-9_-]|\.(?!\.))*$/;

const overlaps = (a: string, b: string) => a.startsWith(b) || b.startsWith(a);

/**
 * A custom prefix, normalized (trailing dots dropped, then one added, as DockFlare does), or why
 * it is refused. A prefix only chooses which of the host's own labels are read: everything read
 * with it is judged exactly as with the default prefix. It may not overlap another label
 * language's prefix, so that one label is never read by two languages at once.
 */
export function checkLabelPrefix(raw: string, tool: LabelPrefixTool): Check<string | undefined> {
  const trimmed = raw.trim().replace(/\.+$/, '');
  if (trimmed === '') return refuse('is empty: leave the variable unset to use the default prefix');
  if (trimmed.length + 1 > LABEL_PREFIX_MAX_LENGTH)
    return refuse(`is longer than ${LABEL_PREFIX_MAX_LENGTH} characters`);
  if (!CHARSET.test(trimmed))
    return refuse('may hold only letters, digits, "_", "-" and single dots, starting with a letter or digit');
  const prefix = `${trimmed}.`;
  if (prefix === DEFAULT_OF[tool]) return ok(undefined);
  const clash = [...BUILT_IN_LABEL_PREFIXES, ...RESERVED_NAMESPACES].find((other) => overlaps(prefix, other));
  if (clash !== undefined)
    return refuse(
      `overlaps the prefix "${clash}" ${RESERVED_NAMESPACES.includes(clash) ? "of Docker's own labels" : 'of a label language Tunnelfleet reads'}: choose one that neither starts it nor starts with it`,
    );
  return ok(prefix);
}

/** Both prefixes checked, and checked against each other; the error names the variable. */
export function checkLabelPrefixes(raw: {
  dockflare?: string | undefined;
  labelgate?: string | undefined;
}): Check<LabelPrefixes> {
  const out: LabelPrefixes = {};
  for (const tool of ['dockflare', 'labelgate'] as const) {
    const value = raw[tool];
    if (value === undefined) continue;
    const checked = checkLabelPrefix(value, tool);
    if (!checked.ok)
      return refuse(
        `${LABEL_PREFIX_VARIABLES[tool]}: ${JSON.stringify(value.slice(0, 80))} ${checked.reason}`,
      );
    if (checked.value !== undefined) out[tool] = checked.value;
  }
  if (out.dockflare !== undefined && out.labelgate !== undefined && overlaps(out.dockflare, out.labelgate))
    return refuse(
      `${LABEL_PREFIX_VARIABLES.dockflare} "${out.dockflare}" and ${LABEL_PREFIX_VARIABLES.labelgate} "${out.labelgate}" overlap: one label would be read by both languages`,
    );
  return ok(out);
}

/** The peer tools' own variable names, which the agent reads too. */
export const LABEL_PREFIX_VARIABLES: Record<LabelPrefixTool, string> = {
  dockflare: 'LABEL_PREFIX',
  labelgate: 'LABELGATE_LABEL_PREFIX',
};

/** Every prefix a host's labels are read under: the built-in ones and its custom ones. */
export function labelPrefixesOf(prefixes: LabelPrefixes = {}): string[] {
  return [
    ...BUILT_IN_LABEL_PREFIXES,
    ...[prefixes.dockflare, prefixes.labelgate].filter((p) => p !== undefined),
  ];
}
