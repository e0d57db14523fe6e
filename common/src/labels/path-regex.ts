import { type Check, hasControlCharacter, ok, refuse } from './problems.js';

const LONGEST = 1024;

/** Constructs JavaScript accepts but Go's RE2 (which cloudflared uses) rejects. */
function findRe2Gap(source: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const next = source[i + 1] ?? '';
    if (c === '\\') {
      if (!inClass && /[1-9]/.test(next)) return `the backreference "\\${next}"`;
      if (next === 'k' && source[i + 2] === '<') return 'a named backreference "\\k<…>"';
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      if (next === '^') i++;
      if (source[i + 1] === ']') i++;
    } else if (c === '(' && next === '?') {
      const head = source.slice(i + 2, i + 4);
      if (head.startsWith('=')) return 'a lookahead "(?="';
      if (head.startsWith('!')) return 'a negative lookahead "(?!"';
      if (head === '<=') return 'a lookbehind "(?<="';
      if (head === '<!') return 'a negative lookbehind "(?<!"';
    }
  }
  return undefined;
}

/** Rewrites RE2-only syntax into its JavaScript equivalent so that compiling checks the rest. */
function toJavaScript(source: string): string {
  return source
    .replace(/\(\?P</g, '(?<')
    .replace(/\(\?[imsU]*(?:-[imsU]*)?\)/g, '')
    .replace(/\(\?[imsU]*(?:-[imsU]*)?:/g, '(?:')
    .replace(/\\[Az]/g, (anchor) => (anchor === '\\A' ? '^' : '$'));
}

/** A path regex as cloudflared matches it against the request path: it must compile under RE2 rules. */
export function checkPathRegex(raw: string): Check<string> {
  if (raw.length > LONGEST)
    return refuse(`is too long for a path (${raw.length} characters, at most ${LONGEST})`);
  if (hasControlCharacter(raw)) return refuse('has a control character');
  const gap = findRe2Gap(raw);
  if (gap) return refuse(`uses ${gap}, which cloudflared's Go regular expressions (RE2) do not support`);
  try {
    new RegExp(toJavaScript(raw));
  } catch (error) {
    const detail =
      error instanceof Error ? (error.message.split(': ').pop() ?? error.message) : 'syntax error';
    return refuse(`is not a valid regular expression (${detail})`);
  }
  return ok(raw);
}

/**
 * Why Access cannot protect exactly what a route's path routes, or undefined when it can. An
 * Access application domain takes a path prefix, not a regex, and cloudflared's path regex is
 * unanchored: only `^` followed by literal characters (optionally ending in `$`) is a prefix,
 * `^/admin` → `host/admin`. Shared by the label parser (the checker) and the master's Access sync.
 */
export function accessPathProblem(path: string): string | undefined {
  if (path === '' || /^\^\/[A-Za-z0-9_~/-]*\$?$/.test(path)) return undefined;
  return (
    'is a regex that no Access application domain (a path prefix) covers exactly; protect an ' +
    'anchored literal prefix such as ^/admin, or the whole hostname'
  );
}

/** How the L7 gateway matches a path (`common/src/gateway/routing-table.ts`). */
export interface GatewayPathMatch {
  type: 'prefix' | 'exact';
  value: string;
}

/**
 * The gateway's match for a route's path regex, or undefined when it has none. The gateway matches
 * literal paths: no path is every path, `^/app$` is exact, `^/app` a prefix of whole segments
 * (narrower than the regex, which also matches `/apps`: never wider). Anything else cannot go
 * through the gateway. Shared by the label parser (the checker) and the master's gateway routes.
 */
export function gatewayPathMatch(path: string | undefined): GatewayPathMatch | undefined {
  if (path === undefined || path === '') return { type: 'prefix', value: '/' };
  const literal = /^\^(\/[A-Za-z0-9_~./-]*?)(\$?)$/.exec(path);
  if (!literal) return undefined;
  const value = literal[1]!;
  if (literal[2]) return { type: 'exact', value };
  return { type: 'prefix', value: value.length > 1 ? value.replace(/\/+$/, '') || '/' : value };
}
