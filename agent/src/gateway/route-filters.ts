import type { IncomingMessage } from 'node:http';
import type { GatewayHeaderModifier, GatewayRoute } from '@tunnelfleet/common';

type Headers = Record<string, string | string[]>;

/** Gateway API's header modifier, in its order: set (replace), add (append), remove. */
export function modifyHeaders(headers: Headers, modifier: GatewayHeaderModifier | undefined): Headers {
  if (!modifier) return headers;
  for (const { name, value } of modifier.set ?? []) headers[name] = value;
  for (const { name, value } of modifier.add ?? []) {
    const before = headers[name];
    headers[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  for (const name of modifier.remove ?? []) delete headers[name];
  return headers;
}

/** `prefix` + `rest` with one `/` between them: `/` + `/x` is `/x`, `/v2` + `/x` is `/v2/x`. */
function joinPath(prefix: string, rest: string): string {
  if (rest === '') return prefix;
  if (prefix.endsWith('/') && rest.startsWith('/')) return prefix + rest.slice(1);
  if (!prefix.endsWith('/') && !rest.startsWith('/')) return `${prefix}/${rest}`;
  return prefix + rest;
}

/**
 * The path the backend is sent after `rewrite.pathPrefix`: the part the route's path match
 * matched (`span`) is replaced, the rest of the path kept.
 */
export function rewritePath(path: string, span: [number, number], replacement: string): string {
  const [start, end] = span;
  return joinPath(joinPath(path.slice(0, start) || '', replacement), path.slice(end));
}

/** The first value of a header cloudflared or a proxy may have sent several times. */
function firstValue(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.split(',')[0]?.trim() || undefined;
}

/**
 * The `Location` of a redirect filter: unset parts are the request's own. The scheme is the one
 * the client used (`X-Forwarded-Proto`, which cloudflared sets); a new scheme or host drops the port.
 */
export function redirectLocation(
  req: IncomingMessage,
  redirect: NonNullable<NonNullable<GatewayRoute['filters']>['redirect']>,
  path: string,
  query: string,
): string {
  const proto = firstValue(req.headers['x-forwarded-proto']);
  const scheme = redirect.scheme ?? (proto === 'https' ? 'https' : 'http');
  // The Host cloudflared was asked for, never a client's X-Forwarded-Host: a cached redirect to a
  // host the client chose would send every later visitor there.
  const ownHost = req.headers.host ?? '';
  let authority: string;
  if (redirect.port !== undefined) {
    const host = redirect.hostname ?? ownHost.replace(/:\d+$/, '');
    authority = `${host}:${redirect.port}`;
  } else if (redirect.hostname !== undefined || redirect.scheme !== undefined) {
    authority = redirect.hostname ?? ownHost.replace(/:\d+$/, '');
  } else {
    authority = ownHost;
  }
  return `${scheme}://${authority}${redirect.path ?? path}${query ? `?${query}` : ''}`;
}
