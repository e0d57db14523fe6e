import { isIP } from 'node:net';

/**
 * The ingress checks the live API applies on `PUT .../configurations`, with cloudflared's own
 * messages (cloudflared/ingress/ingress.go), since the API validates with that code.
 * Returns the first problem, or null when the configuration is acceptable.
 */

const LAST_RULE_NOT_CATCH_ALL =
  'The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)';
const BAD_WILDCARD =
  'Hostname patterns can have at most one wildcard character ("*") and it can only be used for subdomains, e.g. "*.example.com"';
const HOSTNAME_HAS_PORT = 'Hostname cannot contain a port';
const NO_RULES = "The config file doesn't contain any ingress rules";

const URL_SCHEMES = new Set(['http', 'https', 'ws', 'wss', 'tcp', 'ssh', 'rdp', 'smb']);
const NAMED_SERVICES = new Set(['hello_world', 'hello-world', 'bastion', 'socks-proxy']);
const HOST_LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

function serviceProblem(service: unknown, index: number): string | null {
  if (typeof service !== 'string' || service === '') return `Rule #${index + 1} is missing a service`;
  if (service.startsWith('unix:') || service.startsWith('unix+tls:')) return null;
  if (service.startsWith('http_status:')) {
    const code = Number(service.slice('http_status:'.length));
    if (!Number.isInteger(code)) return 'invalid HTTP status code';
    if (code < 100 || code > 999) return `invalid HTTP status code: ${code}`;
    return null;
  }
  if (NAMED_SERVICES.has(service)) return null;
  let url: URL;
  try {
    url = new URL(service);
  } catch {
    return `${service} is an invalid address, please make sure it has a scheme and a hostname`;
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!URL_SCHEMES.has(scheme) || url.hostname === '') {
    return `${service} is an invalid address, please make sure it has a scheme and a hostname`;
  }
  if (url.pathname !== '' && url.pathname !== '/') {
    return `${service} is an invalid address, ingress rules don't support proxying to a different path on the origin service. The path will be the same as the eyeball request's path`;
  }
  return null;
}

function hostnameProblem(hostname: string): string | null {
  if (/:\d+$/.test(hostname) && isIP(hostname) !== 6) return HOSTNAME_HAS_PORT;
  if (hostname.lastIndexOf('*') > 0) return BAD_WILDCARD;
  if (hostname === '' || hostname === '*') return null;
  const labels = (hostname.startsWith('*.') ? hostname.slice(2) : hostname).split('.');
  if (labels.some((label) => !HOST_LABEL.test(label))) return `Hostname ${hostname} is not a valid hostname`;
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function validateTunnelConfig(config: unknown): string | null {
  if (!isObject(config)) return 'config must be an object';
  if (config.originRequest !== undefined && !isObject(config.originRequest)) {
    return 'originRequest must be an object';
  }
  if (config.ingress === undefined) return null;
  if (!Array.isArray(config.ingress)) return 'ingress must be a list of rules';
  const rules = config.ingress;
  if (rules.length === 0) return NO_RULES;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (!isObject(rule)) return `Rule #${i + 1} must be an object`;
    const hostname = rule.hostname ?? '';
    const path = rule.path ?? '';
    if (typeof hostname !== 'string') return `Rule #${i + 1} hostname must be a string`;
    if (typeof path !== 'string') return `Rule #${i + 1} path must be a string`;
    const problem = serviceProblem(rule.service, i) ?? hostnameProblem(hostname);
    if (problem) return problem;
    if (rule.originRequest !== undefined && !isObject(rule.originRequest)) {
      return `Rule #${i + 1} originRequest must be an object`;
    }
    const catchAll = (hostname === '' || hostname === '*') && path === '';
    const last = i === rules.length - 1;
    if (last && !catchAll) return LAST_RULE_NOT_CATCH_ALL;
    if (!last && catchAll) {
      return `Rule #${i + 1} is matching the hostname '${hostname}', but this will match every hostname, meaning the rules which follow it will never be triggered.`;
    }
    if (path !== '') {
      try {
        new RegExp(path);
      } catch (error) {
        return `Rule #${i + 1} has an invalid regex: ${(error as Error).message}`;
      }
    }
  }
  return null;
}
