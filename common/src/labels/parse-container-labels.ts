import { dagReader } from './dag-reader.js';
import { dockflareReader } from './dockflare-reader.js';
import { labelgateReader } from './labelgate-reader.js';
import { labelError, labelWarning, showValue } from './problems.js';
import type { LabelMap, ReaderResult } from './reader.js';
import { type FinishedDraft, finishDraft, type RouteDraft } from './route-draft.js';
import { readTunnelfleetLabels, TUNNELFLEET_PREFIX } from './tunnelfleet-reader.js';
import type {
  InvalidRoute,
  LabelParseContext,
  LabelParseResult,
  LabelProblem,
  LabelSource,
  ParsedRoute,
} from './types.js';

/** Precedence when two label languages route the same hostname and path: earlier wins. */
function readPeers(labels: LabelMap, context: LabelParseContext): ReaderResult[] {
  const prefixes = context.labelPrefixes ?? {};
  return [
    dockflareReader(labels, prefixes.dockflare),
    labelgateReader(labels, prefixes.labelgate),
    dagReader(labels, context),
  ];
}

function toLabelMap(labels: unknown, problems: LabelProblem[]): LabelMap {
  const map = new Map<string, string>();
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    if (labels !== undefined && labels !== null) {
      problems.push(labelError({ label: '(labels)', reason: 'are not an object of string keys and values' }));
    }
    return map;
  }
  for (const key of Object.keys(labels)) {
    const value: unknown = (labels as Record<string, unknown>)[key];
    if (typeof value === 'string') map.set(key, value);
    else
      problems.push(
        labelWarning({ label: key, reason: `has a ${typeof value} value instead of a string; ignored` }),
      );
  }
  return map;
}

/** Routes with the same identity route the same requests: the later one is a duplicate. */
function identity(route: ParsedRoute): string {
  return `${route.hostname}\u0000${route.path ?? ''}\u0000${JSON.stringify(route.l7?.match ?? {})}`;
}

function describe(route: ParsedRoute): string {
  return route.path === undefined
    ? `"${route.hostname}"`
    : `"${route.hostname}" with path ${showValue(route.path)}`;
}

interface Finished {
  draft: RouteDraft;
  result: FinishedDraft;
  /** Superseded by another label language's route for the same hostname and path. */
  dropped?: boolean;
}

/** Drops or invalidates the later of two routes with the same hostname and path. */
function resolveDuplicates(finished: Finished[], problems: LabelProblem[]): void {
  const seen = new Map<string, { key: string; source: LabelSource }>();
  for (const item of finished) {
    const { draft, result } = item;
    if (!result.valid) continue;
    const first = seen.get(identity(result.route));
    if (first === undefined) {
      seen.set(identity(result.route), { key: result.route.key, source: result.route.source });
      continue;
    }
    const label = draft.hostname?.label ?? draft.hostnameLabel;
    const value = draft.hostname?.value;
    if (first.source === draft.source) {
      const problem = labelError({
        label,
        value,
        route: draft.key,
        reason: `is a duplicate: ${describe(result.route)} is already routed by route "${first.key}" on this container`,
      });
      item.result = {
        valid: false,
        route: {
          key: draft.key,
          source: draft.source,
          hostname: result.route.hostname,
          problems: [...result.problems, problem],
        },
        problems: [...result.problems, problem],
      };
    } else {
      const problem = labelWarning({
        label,
        value,
        route: draft.key,
        reason: `is ignored: ${describe(result.route)} is also routed by the ${first.source} route "${first.key}", which wins`,
      });
      item.result = { ...result, problems: [...result.problems, problem] };
      problems.push(problem);
      item.dropped = true;
    }
  }
}

function dedupe(problems: LabelProblem[]): LabelProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const id = `${problem.severity}\u0000${problem.label}\u0000${problem.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

function parse(labels: unknown, context: LabelParseContext): LabelParseResult {
  const problems: LabelProblem[] = [];
  const map = toLabelMap(labels, problems);
  const ours = readTunnelfleetLabels(map);
  problems.push(...ours.problems);
  const switchedOff = map.has(`${TUNNELFLEET_PREFIX}enable`) && ours.present && !ours.enabled;
  const readers = switchedOff ? [] : readPeers(map, context);
  for (const peer of readers) problems.push(...peer.problems);
  const present = readers.filter((peer) => peer.present);
  if (ours.enabled && present.length > 0) {
    problems.push(
      labelWarning({
        label: `${TUNNELFLEET_PREFIX}enable`,
        reason:
          'is set on a container that also has DockFlare, Labelgate or DAG labels: routes are read from all of them, and where two route the same hostname and path the tunnelfleet route wins (then DockFlare, then Labelgate, then DAG)',
      }),
    );
  }
  const finished: Finished[] = [ours, ...readers]
    .flatMap((reader) => reader.drafts)
    .map((draft) => ({ draft, result: finishDraft(draft, context) }));
  resolveDuplicates(finished, problems);
  const routes: ParsedRoute[] = [];
  const invalidRoutes: InvalidRoute[] = [];
  for (const item of finished) {
    if (item.dropped) continue;
    problems.push(...item.result.problems);
    if (item.result.valid) routes.push(item.result.route);
    else invalidRoutes.push(item.result.route);
  }
  return {
    enabled: ours.enabled || readers.some((peer) => peer.enabled),
    routes,
    invalidRoutes,
    problems: dedupe(problems),
  };
}

/**
 * Reads a container's labels in every supported label language into normalized routes and problems.
 * Never throws: whatever the input, the answer is routes, invalid routes and problems.
 */
export function parseContainerLabels(
  labels: Record<string, string>,
  context: LabelParseContext = {},
): LabelParseResult {
  try {
    return parse(labels, context);
  } catch (error) {
    // A bug here must not take an agent or the master down with it: report it as a label error.
    const detail = error instanceof Error ? error.message : String(error);
    return {
      enabled: false,
      routes: [],
      invalidRoutes: [],
      problems: [
        labelError({
          label: '(labels)',
          reason: `could not be parsed (internal error: ${detail.slice(0, 200)})`,
        }),
      ],
    };
  }
}
