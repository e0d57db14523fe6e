import { type Check, ok, refuse } from './problems.js';
import type { LabelParseContext } from './types.js';

/** Schemes cloudflared ingress accepts as `<scheme>://host[:port]`. */
const URL_SCHEMES = ['http', 'https', 'tcp', 'ssh', 'rdp', 'smb'] as const;
const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };
const LITERALS = ['hello_world', 'bastion'];
const SOCKET_SCHEMES = ['unix', 'unix+tls'];
const HOST_NAME = /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/;
const IPV6 = /^\[[0-9a-f:.]+\]$/;
const EXAMPLES =
  'http://web:8080, https://…, tcp://…:5432, ssh://…:22, rdp://…:3389, unix:/path, http_status:404';
const LONGEST = 2048;

interface ServiceResult {
  service: string;
  /** Set when the service was completed or left to a default the operator may not expect. */
  note?: string;
}

function checkPort(text: string): Check<number> {
  if (!/^\d{1,5}$/.test(text)) return refuse(`has the port ${JSON.stringify(text)}, which is not a number`);
  const port = Number(text);
  if (port < 1 || port > 65535) return refuse(`has the port ${port}, out of range 1-65535`);
  return ok(port);
}

function checkHost(host: string): string | undefined {
  if (host.length === 0) return 'names no host';
  if (IPV6.test(host)) return undefined;
  if (!HOST_NAME.test(host) || host.includes('..')) {
    return `has the host ${JSON.stringify(host)}, which is not a host name or IP address`;
  }
  return undefined;
}

function checkSocket(scheme: string, rest: string): Check<ServiceResult> {
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (!path.startsWith('/'))
    return refuse(`names no absolute socket path (write e.g. "${scheme}:/run/app.sock")`);
  if (/\s/.test(path)) return refuse('has a space in the socket path');
  return ok({ service: `${scheme}:${path}` });
}

function portNote(ports: readonly number[] | undefined): string {
  if (!ports || ports.length === 0) return 'the container exposes no port';
  return `the container exposes ${ports.length} ports (${ports.slice(0, 10).join(', ')})`;
}

function completePort(scheme: string, host: string, context: LabelParseContext): Check<ServiceResult> {
  const ports = context.exposedPorts;
  if (ports?.length === 1) return ok({ service: `${scheme}://${host}:${ports[0]}` });
  const fallback = DEFAULT_PORTS[scheme];
  if (fallback === undefined) {
    return refuse(
      `names no port and ${portNote(ports)}, so it cannot be completed (write e.g. "${scheme}://${host}:PORT")`,
    );
  }
  const service = `${scheme}://${host}`;
  if (ports === undefined || ports.includes(fallback)) return ok({ service });
  return ok({ service, note: `names no port and ${portNote(ports)}; cloudflared will use port ${fallback}` });
}

/** A service label value, normalized (lower-case scheme and host, no trailing slash, port completed). */
export function checkService(raw: string, context: LabelParseContext = {}): Check<ServiceResult> {
  const text = raw.trim();
  if (text.length === 0) return refuse(`is empty (expected e.g. ${EXAMPLES})`);
  if (text.length > LONGEST) return refuse(`is too long for a service (${text.length} characters)`);
  const lower = text.toLowerCase();
  if (LITERALS.includes(lower)) return ok({ service: lower });
  const status = /^http_status:(.*)$/.exec(lower);
  if (status) {
    const code = status[1] ?? '';
    if (!/^\d{3}$/.test(code) || Number(code) < 100 || Number(code) > 599) {
      return refuse(`has the status ${JSON.stringify(code)}, not an HTTP status 100-599`);
    }
    return ok({ service: `http_status:${code}` });
  }
  const colon = text.indexOf(':');
  const scheme = colon > 0 ? lower.slice(0, colon) : '';
  if (SOCKET_SCHEMES.includes(scheme)) return checkSocket(scheme, text.slice(colon + 1));
  if (!/^[a-z][a-z0-9+.-]*:\/\//.test(lower))
    return refuse(`is not a service URL (expected e.g. ${EXAMPLES})`);
  if (scheme === 'udp') return refuse('uses udp, which cloudflared ingress rules do not support');
  if (!(URL_SCHEMES as readonly string[]).includes(scheme)) {
    return refuse(
      `has the unknown scheme "${scheme}" (use ${URL_SCHEMES.join(', ')}, unix, http_status, hello_world or bastion)`,
    );
  }
  return checkUrl(scheme, text.slice(scheme.length + 3), context);
}

function checkUrl(scheme: string, rest: string, context: LabelParseContext): Check<ServiceResult> {
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const tail = end === -1 ? '' : rest.slice(end);
  if (tail !== '' && tail !== '/') {
    return refuse(
      `has ${JSON.stringify(tail.slice(0, 40))} after the host; cloudflared forwards the request path unchanged, so a service has only scheme, host and port`,
    );
  }
  if (authority.includes('@'))
    return refuse('has credentials in the URL, which cloudflared does not support');
  const portMatch = /^(.*?)(?::([^:\]]*))?$/.exec(authority);
  const host = (portMatch?.[1] ?? '').toLowerCase();
  const portText = portMatch?.[2];
  const hostProblem = checkHost(host);
  if (hostProblem) return refuse(hostProblem);
  if (portText === undefined) return completePort(scheme, host, context);
  const port = checkPort(portText);
  if (!port.ok) return port;
  return ok({ service: `${scheme}://${host}:${port.value}` });
}

/** The service of a route that names none: the container itself, when one port makes it unambiguous. */
export function defaultService(context: LabelParseContext): Check<ServiceResult> {
  const name = context.containerName?.replace(/^\//, '');
  const ports = context.exposedPorts;
  if (name && ports?.length === 1 && HOST_NAME.test(name.toLowerCase())) {
    return ok({ service: `http://${name.toLowerCase()}:${ports[0]}` });
  }
  if (!name) return refuse('is not set and the container name is unknown, so it cannot be completed');
  const example = HOST_NAME.test(name.toLowerCase()) && name.length <= 63 ? name.toLowerCase() : 'HOST';
  return refuse(
    `is not set and ${portNote(ports)}, so it cannot be completed (write e.g. "http://${example}:PORT")`,
  );
}
