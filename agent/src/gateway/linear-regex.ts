import { setFlagsFromString } from 'node:v8';
import { type JavaScriptRegex, ValidationError } from '@tunnelfleet/common';

/**
 * Compiles a route's regex with V8's linear-time engine (the `l` flag: an automaton, as RE2, with
 * no backtracking). A regex comes from a container label, which is untrusted: with the default
 * backtracking engine `^(a|a)*$` against a long path would hold the event loop for minutes; here
 * every match is linear in the input. The engine refuses what it cannot run linearly
 * (backreferences, lookarounds), which RE2 and the label checker refuse as well.
 */
export function compileLinearRegex(regex: JavaScriptRegex, what: string): RegExp {
  // The engine is behind a V8 flag; setting it again is harmless and keeps this free of state.
  setFlagsFromString('--enable-experimental-regexp-engine');
  const folded = regex.flags.includes('i');
  try {
    return new RegExp(folded ? foldCase(regex.source) : regex.source, `${regex.flags.replace('i', '')}l`);
  } catch (error) {
    throw new ValidationError('routing table', [
      { path: what, reason: `cannot be matched in linear time (${(error as Error).message})` },
    ]);
  }
}

const isLetter = (c: string | undefined) => c !== undefined && /^[A-Za-z]$/.test(c);
const swap = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());

/**
 * `source` matching ASCII letters in either case, without the `i` flag (which the linear engine
 * does not take): `a` becomes `[aA]`, `[a-f]` becomes `[a-fA-F]`. Escapes and group names are
 * copied as they are.
 */
export function foldCase(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      // `\p{…}` and `\u{…}` whole, else the escape and its one character.
      const braced = /^\\[pPu]\{[^}]*\}/.exec(source.slice(i));
      const escaped = braced ? braced[0] : source.slice(i, i + 2);
      out += escaped;
      i += escaped.length - 1;
    } else if (!inClass && (source.startsWith('(?<', i) || source.startsWith('(?P<', i))) {
      const end = source.indexOf('>', i);
      // `(?<=`/`(?<!` never get here: lookbehinds are refused before.
      out += source.slice(i, end + 1);
      i = end;
    } else if (inClass) {
      if (c === ']') {
        inClass = false;
        out += c;
      } else if (isLetter(c) && source[i + 1] === '-' && isLetter(source[i + 2])) {
        const to = source[i + 2]!;
        out += `${c}-${to}`;
        if ((c === c.toLowerCase()) === (to === to.toLowerCase())) out += `${swap(c)}-${swap(to)}`;
        i += 2;
      } else {
        out += isLetter(c) ? c + swap(c) : c;
      }
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (source[i + 1] === '^') out += source[++i];
      if (source[i + 1] === ']') out += source[++i];
    } else if (isLetter(c)) {
      out += `[${c}${swap(c)}]`;
    } else {
      out += c;
    }
  }
  return out;
}
