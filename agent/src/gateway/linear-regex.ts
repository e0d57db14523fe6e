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
  try {
    return new RegExp(regex.source, `${regex.flags}l`);
  } catch (error) {
    throw new ValidationError('routing table', [
      { path: what, reason: `cannot be matched in linear time (${(error as Error).message})` },
    ]);
  }
}
