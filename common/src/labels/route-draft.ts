import type { BoolDialect } from './booleans.js';
import { checkHostname } from './hostname.js';
import { buildL7, type L7Entry } from './l7.js';
import { buildOriginRequest, type OriginEntry } from './origin-request.js';
import { accessPathProblem, checkPathRegex } from './path-regex.js';
import { type Check, checkLabel, labelError, labelWarning, ok, refuse } from './problems.js';
import { checkService, defaultService } from './service.js';
import { checkServicePolicy } from './service-policy.js';
import type {
  AccessSpec,
  InvalidRoute,
  LabelParseContext,
  LabelProblem,
  LabelSource,
  ParsedRoute,
} from './types.js';
import { buildWake, type WakeKey } from './wake.js';

/** A label and its value, kept together so every problem can name the label it came from. */
export interface LabelValue {
  label: string;
  value: string;
}

/** A route as a reader found it, before the checks every label language shares. */
export interface RouteDraft {
  key: string;
  source: LabelSource;
  hostname?: LabelValue;
  service?: LabelValue;
  path?: LabelValue;
  zone?: LabelValue;
  tunnel?: LabelValue;
  /** Where the hostname and service would be written, for "is not set" messages. */
  hostnameLabel: string;
  serviceLabel: string;
  dns: boolean;
  cleanup: boolean;
  origin: OriginEntry[];
  dialect: BoolDialect;
  access?: AccessSpec;
  public?: true;
  /** Wake-on-request labels (Tunnelfleet's own, or DAG's mapped onto them). */
  wake?: Partial<Record<WakeKey, LabelValue>>;
  /** Routing beyond hostname and path (Tunnelfleet's own language only). */
  l7?: L7Entry[];
  /** Where the route's keys are written (`tunnelfleet.` or `tunnelfleet.<route>.`), for hints. */
  keyPrefix?: string;
  /** Problems the reader already found for this route. */
  problems: LabelProblem[];
}

/** A finished draft; `problems` holds all of the route's problems, also the warnings of a valid one. */
export type FinishedDraft = { problems: LabelProblem[] } & (
  | { valid: true; route: ParsedRoute }
  | { valid: false; route: InvalidRoute }
);

const TUNNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkTunnelName(raw: string): Check<string> {
  const name = raw.trim();
  return TUNNEL_NAME.test(name)
    ? ok(name)
    : refuse('is not a tunnel name (letters, digits, "._-", at most 64)');
}

function checkZone(raw: string, hostname: string | undefined): Check<string> {
  const zone = checkHostname(raw, { wildcard: false });
  if (!zone.ok || hostname === undefined) return zone;
  const bare = hostname.replace(/^\*\./, '');
  if (bare !== zone.value && !bare.endsWith(`.${zone.value}`)) {
    return refuse(`does not contain the hostname "${hostname}"`);
  }
  return zone;
}

/** Runs the shared checks on a draft: a route with any error comes back invalid. */
export function finishDraft(draft: RouteDraft, context: LabelParseContext): FinishedDraft {
  // Copies: a problem object may be shared by several drafts (an access definition bound twice).
  const problems = draft.problems.map((problem) => ({ ...problem }));
  const error = (label: string, value: string | undefined, reason: string) =>
    problems.push(labelError(value === undefined ? { label, reason } : { label, value, reason }));

  let hostname: string | undefined;
  if (draft.hostname === undefined) {
    error(draft.hostnameLabel, undefined, 'is not set; every route needs a hostname');
  } else {
    hostname = checkLabel(draft.hostname, (raw) => checkHostname(raw, { wildcard: true }), problems);
  }

  let service: string | undefined;
  const checkedService = draft.service ? checkService(draft.service.value, context) : defaultService(context);
  const serviceLabel = draft.service?.label ?? draft.serviceLabel;
  if (checkedService.ok) {
    service = checkedService.value.service;
    if (checkedService.value.note) {
      problems.push(
        labelWarning({ label: serviceLabel, value: draft.service?.value, reason: checkedService.value.note }),
      );
    }
  } else {
    error(serviceLabel, draft.service?.value, checkedService.reason);
  }

  const optional = (
    field: LabelValue | undefined,
    check: (raw: string) => Check<string>,
  ): string | undefined =>
    field === undefined || field.value.trim() === '' ? undefined : checkLabel(field, check, problems);
  const path = optional(draft.path, checkPathRegex);
  // A zone default (`*.<zone>`) application covers every path of the hostname: no prefix needed.
  const pathProblem =
    draft.access && !draft.access.zoneDefault && path !== undefined ? accessPathProblem(path) : undefined;
  if (pathProblem && draft.path) error(draft.path.label, draft.path.value, pathProblem);
  const zone = optional(draft.zone, (raw) => checkZone(raw, hostname));
  const tunnel = optional(draft.tunnel, checkTunnelName);

  const origin = buildOriginRequest(draft.origin, draft.dialect);
  problems.push(...origin.problems);
  if (service !== undefined && context.servicePolicy !== undefined) {
    const verdict = checkServicePolicy(
      { service, originRequest: origin.originRequest },
      context.servicePolicy,
      {
        name: context.containerName ?? '',
        networks: context.networks ?? {},
      },
    );
    if (!verdict.allowed) {
      // Name the label that asked for it: the origin option, else the service (or its default).
      const originKey =
        verdict.rule === 'socks' ? 'proxyType' : verdict.rule === 'bastion' ? 'bastionMode' : undefined;
      const option = originKey && draft.origin.findLast((entry) => entry.key === originKey);
      if (option && service !== 'bastion') error(option.label, option.value, verdict.reason);
      else error(serviceLabel, draft.service?.value ?? service, verdict.reason);
    }
  }
  if (context.requireAccess && !draft.access && !draft.public) {
    // Only Tunnelfleet's labels can say "public on purpose"; a peer's route is public through an
    // Access app whose policy is a bypass for everyone.
    const remedy =
      draft.source === 'tunnelfleet'
        ? 'add access.* labels, or set tunnelfleet.access.public=true to publish it without Access on purpose'
        : draft.source === 'dag'
          ? 'DAG labels carry no Access: write the route in tunnelfleet.* labels with access.* labels'
          : 'add its Access labels (a bypass policy for everyone keeps it public behind an Access app)';
    error(
      draft.hostname?.label ?? draft.hostnameLabel,
      draft.hostname?.value,
      `has no Access and REQUIRE_ACCESS is on: ${remedy}`,
    );
  }
  const wake = draft.wake
    ? buildWake(
        draft.wake,
        { dialect: draft.dialect, service, containerName: context.containerName },
        problems,
      )
    : undefined;
  const l7 = draft.l7
    ? buildL7(draft.l7, { service, context, prefix: draft.keyPrefix ?? '' }, problems)
    : undefined;
  for (const problem of problems) problem.route = draft.key;

  if (hostname === undefined || service === undefined || problems.some((p) => p.severity === 'error')) {
    const invalid: InvalidRoute = { key: draft.key, source: draft.source, problems };
    const shownHostname = hostname ?? draft.hostname?.value.trim().slice(0, 253);
    if (shownHostname) invalid.hostname = shownHostname;
    return { valid: false, route: invalid, problems };
  }
  const route: ParsedRoute = {
    key: draft.key,
    source: draft.source,
    hostname,
    service,
    originRequest: origin.originRequest,
    dns: draft.dns,
    cleanup: draft.cleanup,
  };
  if (path !== undefined) route.path = path;
  if (zone !== undefined) route.zone = zone;
  if (tunnel !== undefined) route.tunnel = tunnel;
  if (draft.access !== undefined) route.access = draft.access;
  if (draft.public) route.public = true;
  if (wake !== undefined) route.wake = wake;
  if (l7 !== undefined) route.l7 = l7;
  return { valid: true, route, problems };
}
