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

/** A regular expression as Go's RE2 reads it (cloudflared's paths, the gateway's matches). */
export function checkRe2Regex(raw: string, what = 'a regular expression'): Check<string> {
  if (raw.length > LONGEST)
    return refuse(`is too long for ${what} (${raw.length} characters, at most ${LONGEST})`);
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

/** A path regex as cloudflared matches it against the request path: it must compile under RE2 rules. */
export function checkPathRegex(raw: string): Check<string> {
  return checkRe2Regex(raw, 'a path');
}

/** An RE2 expression as JavaScript runs it with the same meaning: its source and flags. */
export interface JavaScriptRegex {
  source: string;
  flags: string;
}

const LEADING_FLAGS = /^\(\?([ims]+)\)/;

/**
 * The JavaScript form of an RE2 expression the gateway matches with: a leading `(?ims)` becomes
 * flags, `(?P<name>` a named group, `\A`/`\z` anchors. Flags anywhere else (`(?i:…)`) have no
 * JavaScript equivalent and are refused rather than silently dropped.
 */
export function toJavaScriptRegex(raw: string): Check<JavaScriptRegex> {
  const checked = checkRe2Regex(raw);
  if (!checked.ok) return checked;
  const leading = LEADING_FLAGS.exec(raw);
  const rest = leading ? raw.slice(leading[0].length) : raw;
  if (/\(\?[imsU-]+[:)]/.test(rest.replace(/\\./g, '')))
    return refuse(
      'uses inline flags other than a leading (?i), (?m) or (?s), which the gateway cannot match',
    );
  return ok({
    source: rest.replace(/\(\?P</g, '(?<').replace(/\\[Az]/g, (anchor) => (anchor === '\\A' ? '^' : '$')),
    flags: leading ? [...new Set(leading[1])].join('') : '',
  });
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
