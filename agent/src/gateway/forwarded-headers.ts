import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** RFC 9110 §7.6.1 hop-by-hop headers, plus the ones undici sets itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

type Headers = Record<string, string | string[]>;

/** Headers a `Connection` header names are hop-by-hop for this one message. */
function connectionTokens(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    text
      .split(',')
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** `headers` without the hop-by-hop ones: what a proxy may pass on. */
export function endToEnd(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): Headers {
  const named = connectionTokens(headers.connection);
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * What the backend is sent: the client's end-to-end headers, its `Host` kept (the backend serves
 * the public name), and `X-Forwarded-For/-Host/-Proto` extended. cloudflared sends `X-Forwarded-For`
 * and `X-Forwarded-Proto: https`; the gateway appends the hop it saw and keeps the scheme it was told.
 */
export function upstreamHeaders(req: IncomingMessage): Headers {
  const headers = endToEnd(req.headers);
  const client = req.socket.remoteAddress;
  const before = req.headers['x-forwarded-for'];
  if (client) headers['x-forwarded-for'] = before ? `${before}, ${client}` : client;
  if (!req.headers['x-forwarded-host'] && req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  if (!req.headers['x-forwarded-proto']) headers['x-forwarded-proto'] = 'http';
  return headers;
}
