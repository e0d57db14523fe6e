import type { z } from 'zod';
import {
  backendUrlSchema,
  type GatewayL7,
  headerNameSchema,
  headerValueSchema,
  modifiableHeaderSchema,
  redirectPathSchema,
} from '../gateway/routing-table.js';
import { didYouMean } from './did-you-mean.js';
import { checkHostname } from './hostname.js';
import { splitList } from './lists.js';
import { toJavaScriptRegex } from './path-regex.js';
import { type Check, checkLabel, labelError, labelWarning, ok, refuse, showValue } from './problems.js';
import type { LabelValue } from './route-draft.js';
import { checkServicePolicy } from './service-policy.js';
import type { LabelParseContext, LabelProblem } from './types.js';

/**
 * Keys of routing beyond hostname and path (after `tunnelfleet.` or `tunnelfleet.<route>.`);
 * `<name>` is a header or query parameter name.
 */
export const L7_KEYS = [
  'weight',
  'mirror',
  'match.method',
  'match.header.<name>',
  'match.header_regex.<name>',
  'match.query.<name>',
  'match.query_regex.<name>',
  'filter.request_header.set.<name>',
  'filter.request_header.add.<name>',
  'filter.request_header.remove',
  'filter.response_header.set.<name>',
  'filter.response_header.add.<name>',
  'filter.response_header.remove',
  'filter.redirect.scheme',
  'filter.redirect.hostname',
  'filter.redirect.port',
  'filter.redirect.path',
  'filter.redirect.status',
  'filter.rewrite.hostname',
  'filter.rewrite.path_prefix',
] as const;

/** Heads of keys this module reads: `match.*`, `filter.*`, `weight`, `mirror`. */
export const L7_HEADS = ['match', 'filter', 'weight', 'mirror'] as const;

/** One L7 label, its key after the route part (`match.header.X-Env`). */
export interface L7Entry extends LabelValue {
  key: string;
}

const MAX_MATCHES = 16;
const MAX_MODIFIERS = 32;
const MAX_WEIGHT = 1_000_000;
const REDIRECT_STATUSES = [301, 302, 303, 307, 308] as const;

/** A value checked by one of the gateway schema's own field schemas: one rule for both ends. */
const by =
  <T>(schema: z.ZodType<T, string>) =>
  (raw: string): Check<T> => {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return ok(parsed.data);
    // The label error quotes the value itself.
    const message = parsed.error.issues[0]?.message ?? 'is not valid';
    const quoted = `${showValue(raw)} `;
    return refuse(message.startsWith(quoted) ? message.slice(quoted.length) : message);
  };

const regex = (raw: string): Check<string> => {
  const checked = toJavaScriptRegex(raw);
  return checked.ok ? ok(raw) : checked;
};

function integer(raw: string, min: number, max: number): Check<number> {
  const text = raw.trim();
  if (!/^\d{1,7}$/.test(text)) return refuse(`is not a whole number (${min} to ${max})`);
  const value = Number(text);
  return value < min || value > max ? refuse(`is out of range (${min} to ${max})`) : ok(value);
}

const method = (raw: string): Check<string> => {
  const upper = raw.trim().toUpperCase();
  return /^[A-Z]{1,20}$/.test(upper) ? ok(upper) : refuse('is not an HTTP method (GET, POST, …)');
};

const hostname = (raw: string) => checkHostname(raw, { wildcard: false, singleLabel: true });

/** The key's `<name>` part must name a header: the error is about the label key itself. */
function headerName(entry: L7Entry, name: string, problems: LabelProblem[], modifiable: boolean) {
  const checked = (modifiable ? modifiableHeaderSchema : headerNameSchema).safeParse(name);
  if (checked.success) return checked.data;
  const reason = checked.error.issues[0]?.message ?? 'is not a header name';
  problems.push(
    labelError({
      label: entry.label,
      reason: `names the header ${showValue(name)}, which ${reason.replace(/^must be/, 'is not')}`,
    }),
  );
  return undefined;
}

type Modifier = NonNullable<NonNullable<GatewayL7['filters']>['requestHeaders']>;
type Redirect = NonNullable<NonNullable<GatewayL7['filters']>['redirect']>;

/** What the labels of one route build up, field by field. */
interface L7Draft {
  weight?: number;
  match: NonNullable<GatewayL7['match']>;
  mirror?: { url: string };
  redirect: Partial<Redirect>;
  rewrite: NonNullable<NonNullable<GatewayL7['filters']>['rewrite']>;
  request: Modifier;
  response: Modifier;
}

interface ReadContext {
  draft: L7Draft;
  problems: LabelProblem[];
  context: LabelParseContext;
}

/** Reads one label into the draft; `name` is the key's `<name>` part for keys that have one. */
type Reader = (entry: L7Entry, read: ReadContext, name: string) => void;

/** `value` set through `assign` when the label's check passes; else the error names the label. */
const field =
  <T>(check: (raw: string) => Check<T>, assign: (draft: L7Draft, value: T) => void): Reader =>
  (entry, { draft, problems }) => {
    const value = checkLabel(entry, check, problems);
    if (value !== undefined) assign(draft, value);
  };

const readMirror: Reader = (entry, { draft, problems, context }) => {
  const url = checkLabel(entry, by(backendUrlSchema), problems);
  if (url === undefined) return;
  if (context.servicePolicy !== undefined) {
    const verdict = checkServicePolicy({ service: url, originRequest: {} }, context.servicePolicy, {
      name: context.containerName ?? '',
      networks: context.networks ?? {},
    });
    if (!verdict.allowed) {
      problems.push(labelError({ ...entry, reason: verdict.reason }));
      return;
    }
  }
  draft.mirror = { url };
};

const readValueMatch =
  (list: 'headers' | 'query', type: 'exact' | 'regex'): Reader =>
  (entry, { draft, problems }, name) => {
    const matched =
      list === 'headers' ? headerName(entry, name, problems, false) : queryName(entry, name, problems);
    const value = checkLabel(entry, type === 'exact' ? by(headerValueSchema) : regex, problems);
    if (
      matched === undefined ||
      value === undefined ||
      tooMany(entry, draft.match[list], MAX_MATCHES, problems)
    )
      return;
    draft.match[list] = [...(draft.match[list] ?? []), { name: matched, type, value }];
  };

const readModifier =
  (side: 'request' | 'response', operation: 'set' | 'add'): Reader =>
  (entry, { draft, problems }, name) => {
    const header = headerName(entry, name, problems, true);
    const value = checkLabel(entry, by(headerValueSchema), problems);
    const modifier = draft[side];
    if (
      header === undefined ||
      value === undefined ||
      tooMany(entry, modifier[operation], MAX_MODIFIERS, problems)
    )
      return;
    modifier[operation] = [...(modifier[operation] ?? []), { name: header, value }];
  };

const readRemove =
  (side: 'request' | 'response'): Reader =>
  (entry, { draft, problems }) => {
    const names = splitList(entry.value);
    const bad = names.find((item) => !modifiableHeaderSchema.safeParse(item).success);
    if (bad !== undefined) {
      problems.push(
        labelError({ ...entry, reason: `has ${showValue(bad)}, which is not a header a filter may remove` }),
      );
    } else if (names.length > MAX_MODIFIERS) {
      problems.push(labelError({ ...entry, reason: `names more than ${MAX_MODIFIERS} headers` }));
    } else {
      draft[side].remove = [...new Set(names.map((item) => item.toLowerCase()))];
    }
  };

function queryName(entry: L7Entry, name: string, problems: LabelProblem[]): string | undefined {
  if (name.length <= 100) return name;
  problems.push(
    labelError({ label: entry.label, reason: 'names a query parameter longer than 100 characters' }),
  );
  return undefined;
}

const scheme = (raw: string): Check<'http' | 'https'> => {
  const value = raw.trim();
  return value === 'http' || value === 'https' ? ok(value) : refuse('is not http or https');
};

const redirectStatus = (raw: string): Check<Redirect['statusCode']> => {
  const code = Number(raw.trim());
  return (REDIRECT_STATUSES as readonly number[]).includes(code)
    ? ok(code as Redirect['statusCode'])
    : refuse(`is not a redirect status (${REDIRECT_STATUSES.join(', ')})`);
};

/** Keys without a `<name>` part. */
const FIXED_KEYS: Record<string, Reader> = {
  weight: field(
    (raw) => integer(raw, 0, MAX_WEIGHT),
    (draft, value) => {
      draft.weight = value;
    },
  ),
  mirror: readMirror,
  'match.method': field(method, (draft, value) => {
    draft.match.method = value;
  }),
  'filter.request_header.remove': readRemove('request'),
  'filter.response_header.remove': readRemove('response'),
  'filter.redirect.scheme': field(scheme, (draft, value) => {
    draft.redirect.scheme = value;
  }),
  'filter.redirect.hostname': field(hostname, (draft, value) => {
    draft.redirect.hostname = value;
  }),
  'filter.redirect.port': field(
    (raw) => integer(raw, 1, 65_535),
    (draft, value) => {
      draft.redirect.port = value;
    },
  ),
  'filter.redirect.path': field(by(redirectPathSchema), (draft, value) => {
    draft.redirect.path = value;
  }),
  'filter.redirect.status': field(redirectStatus, (draft, value) => {
    draft.redirect.statusCode = value;
  }),
  'filter.rewrite.hostname': field(hostname, (draft, value) => {
    draft.rewrite.hostname = value;
  }),
  'filter.rewrite.path_prefix': field(by(redirectPathSchema), (draft, value) => {
    draft.rewrite.pathPrefix = value;
  }),
};

/** Keys ending in a header or parameter name. */
const NAMED_KEYS: [string, Reader][] = [
  ['match.header.', readValueMatch('headers', 'exact')],
  ['match.header_regex.', readValueMatch('headers', 'regex')],
  ['match.query.', readValueMatch('query', 'exact')],
  ['match.query_regex.', readValueMatch('query', 'regex')],
  ['filter.request_header.set.', readModifier('request', 'set')],
  ['filter.request_header.add.', readModifier('request', 'add')],
  ['filter.response_header.set.', readModifier('response', 'set')],
  ['filter.response_header.add.', readModifier('response', 'add')],
];

const nonEmpty = <T extends object>(value: T): T | undefined =>
  Object.keys(value).length > 0 ? value : undefined;

/**
 * The L7 settings of one route, in the shape of the gateway route's fields (`GatewayL7`), so that
 * the master copies them as they are. They need an http(s) service: the gateway proxies to it.
 * A mirror is a backend the labels choose, so the service policy judges it as it judges the service.
 */
export function buildL7(
  entries: L7Entry[],
  options: { service: string | undefined; context: LabelParseContext; prefix: string },
  problems: LabelProblem[],
): GatewayL7 | undefined {
  const before = problems.length;
  const draft: L7Draft = { match: {}, redirect: {}, rewrite: {}, request: {}, response: {} };
  const read: ReadContext = { draft, problems, context: options.context };
  const known: L7Entry[] = [];
  for (const entry of entries) {
    const fixed = FIXED_KEYS[entry.key];
    const named = NAMED_KEYS.find(
      ([prefix]) => entry.key.startsWith(prefix) && entry.key.length > prefix.length,
    );
    if (fixed) fixed(entry, read, '');
    else if (named) named[1](entry, read, entry.key.slice(named[0].length));
    else {
      unknown(entry, options.prefix, problems);
      continue;
    }
    known.push(entry);
  }
  const [first] = known;
  if (first === undefined) return undefined;
  if (options.service !== undefined && !/^https?:\/\//.test(options.service)) {
    problems.push(
      labelError({
        ...first,
        reason: `needs an http:// or https:// service (the route's is "${options.service}")`,
      }),
    );
  }
  const redirect = known.find((entry) => entry.key.startsWith('filter.redirect.'));
  if (redirect && (nonEmpty(draft.rewrite) || draft.mirror)) {
    problems.push(
      labelError({
        label: redirect.label,
        reason:
          'cannot be combined with filter.rewrite.* or mirror: a redirect answers without reaching the backend',
      }),
    );
  }
  if (problems.slice(before).some((problem) => problem.severity === 'error')) return undefined;

  const filters: NonNullable<GatewayL7['filters']> = {};
  const requestHeaders = nonEmpty(draft.request);
  const responseHeaders = nonEmpty(draft.response);
  const rewrite = nonEmpty(draft.rewrite);
  if (requestHeaders) filters.requestHeaders = requestHeaders;
  if (responseHeaders) filters.responseHeaders = responseHeaders;
  if (nonEmpty(draft.redirect)) filters.redirect = { statusCode: 302, ...draft.redirect };
  if (rewrite) filters.rewrite = rewrite;
  if (draft.mirror) filters.mirror = draft.mirror;
  const l7: GatewayL7 = {};
  const match = nonEmpty(draft.match);
  if (match) l7.match = match;
  if (draft.weight !== undefined) l7.weight = draft.weight;
  if (nonEmpty(filters)) l7.filters = filters;
  return l7;
}

/** True, with an error naming the label, when `list` is full already. */
function tooMany(
  entry: L7Entry,
  list: unknown[] | undefined,
  max: number,
  problems: LabelProblem[],
): boolean {
  if ((list?.length ?? 0) < max) return false;
  problems.push(
    labelError({
      label: entry.label,
      reason: `is one too many: a route takes at most ${max} labels of this kind`,
    }),
  );
  return true;
}

function unknown(entry: L7Entry, prefix: string, problems: LabelProblem[]): void {
  problems.push(
    labelWarning({
      label: entry.label,
      reason: `is not a known key; ignored${didYouMean(entry.key, L7_KEYS, prefix)}`,
    }),
  );
}
