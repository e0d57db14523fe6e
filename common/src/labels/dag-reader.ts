import { dagBool } from './booleans.js';
import { didYouMean } from './did-you-mean.js';
import { labelError, labelWarning } from './problems.js';
import type { LabelMap, ReaderResult } from './reader.js';
import type { LabelValue, RouteDraft } from './route-draft.js';
import type { LabelProblem } from './types.js';
import type { WakeKey } from './wake.js';

/** The Awakening Gateway's prefix (`dag.*`), read as it is so that its users can migrate. */
export const DAG_PREFIX = 'dag.';

/** DAG's keys, each mapped onto a Tunnelfleet wake setting of the same meaning. */
const WAKE_OF: Readonly<Record<string, WakeKey>> = {
  start_timeout: 'start_timeout',
  idle_timeout: 'idle_timeout',
  redirect_path: 'redirect_path',
  health_path: 'health_path',
  depends_on: 'depends_on',
};
/** Keys of DAG with no Tunnelfleet equivalent: read, and ignored with a warning saying why. */
const IGNORED: Readonly<Record<string, string>> = {
  network:
    "is ignored: the host's gateway reaches the container by name on the agent's CLOUDFLARED_NETWORK; attach the container to that network",
  icon: 'is ignored: Tunnelfleet has no status page to show it on',
};
const KEYS = ['enabled', 'host', 'target_port', ...Object.keys(WAKE_OF), ...Object.keys(IGNORED)];
const DEFAULT_PORT = 80;
const HOST_NAME = /^[a-z0-9]([a-z0-9_.-]{0,253}[a-z0-9])?$/;

/**
 * The Awakening Gateway's labels: `dag.enabled=true` on a container with `dag.host` is a route
 * that wakes on request, to `http://<container>:<dag.target_port>`, with DAG's timeouts, paths
 * and dependencies as Tunnelfleet's wake settings. The route then goes through the host's gateway
 * as any other waking route, and is judged like any other (allowlist, zones, claims, Access).
 */
export function dagReader(labels: LabelMap, context: { containerName?: string }): ReaderResult {
  const fields = new Map<string, LabelValue>();
  const problems: LabelProblem[] = [];
  for (const [label, value] of labels) {
    if (!label.startsWith(DAG_PREFIX)) continue;
    const key = label.slice(DAG_PREFIX.length);
    if (!KEYS.includes(key)) {
      problems.push(
        labelWarning({
          label,
          value,
          reason: `is not a DAG label Tunnelfleet reads; ignored${didYouMean(key, KEYS, DAG_PREFIX)}`,
        }),
      );
      continue;
    }
    fields.set(key, { label, value });
  }
  const present = fields.size > 0;
  const enabledField = fields.get('enabled');
  const enabled = enabledField ? dagBool.read(enabledField.value) : false;
  if (enabledField && enabled === undefined) {
    problems.push(labelError({ ...enabledField, reason: `is not a boolean (use ${dagBool.spellings})` }));
  }
  if (!enabled) {
    if (present && enabled !== undefined)
      for (const [key, field] of fields)
        if (key !== 'enabled')
          problems.push(labelWarning({ ...field, reason: `is ignored: ${DAG_PREFIX}enabled is not true` }));
    return { present, enabled: false, drafts: [], problems };
  }
  const draftProblems: LabelProblem[] = [];
  for (const [key, reason] of Object.entries(IGNORED)) {
    const field = fields.get(key);
    if (field) problems.push(labelWarning({ ...field, reason }));
  }
  const draft: RouteDraft = {
    key: 'dag',
    source: 'dag',
    hostnameLabel: `${DAG_PREFIX}host`,
    serviceLabel: `${DAG_PREFIX}target_port`,
    dns: true,
    cleanup: true,
    origin: [],
    dialect: dagBool,
    // dag.enabled is also DAG's "wake on request": every DAG container sleeps until a request.
    wake: { wake: enabledField! },
    problems: draftProblems,
  };
  const host = fields.get('host');
  if (host) draft.hostname = host;
  const service = dagService(fields.get('target_port'), context.containerName, draftProblems);
  if (service) draft.service = service;
  for (const [key, wakeKey] of Object.entries(WAKE_OF)) {
    const field = fields.get(key);
    if (field) draft.wake![wakeKey] = field;
  }
  return { present, enabled: true, drafts: [draft], problems };
}

/** `http://<container>:<dag.target_port>` (80 by default), as DAG proxies to the container. */
function dagService(
  port: LabelValue | undefined,
  containerName: string | undefined,
  problems: LabelProblem[],
): LabelValue | undefined {
  const label = `${DAG_PREFIX}target_port`;
  const text = port?.value.trim() ?? String(DEFAULT_PORT);
  let number = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(number >= 1 && number <= 65535)) {
    problems.push(labelError({ label, value: port?.value, reason: 'is not a port (1 to 65535)' }));
    // The route is invalid already; the default port spares it a second, misleading error.
    number = DEFAULT_PORT;
  }
  const name = containerName?.replace(/^\//, '').toLowerCase();
  if (!name) return undefined; // finishDraft says the service cannot be completed without a name
  if (!HOST_NAME.test(name)) {
    problems.push(
      labelError({
        label,
        value: port?.value,
        reason: `cannot be used: the container name "${name.slice(0, 80)}" is not a host name the gateway can reach`,
      }),
    );
    return undefined;
  }
  return { label, value: `http://${name}:${number}` };
}
