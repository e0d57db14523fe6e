import type { CloudflaredProblem } from '@tunnelfleet/common';

export interface ExitDiagnosis extends CloudflaredProblem {
  /** False when starting it again cannot help: only a new configuration (or token) can. */
  retry: boolean;
}

/** How many of cloudflared's last lines go into the message of an exit without a known cause. */
const LAST_WORDS_LINES = 3;
const LAST_WORDS_CHARS = 500;

/**
 * Why cloudflared stopped, from its exit code and output, as measured on release 2023.7.3:
 * - a flag it does not know, or on the wrong side of `run`, prints `Incorrect Usage: …` (a `run`
 *   flag) or `Incorrect Usage. …` (a `tunnel` flag), then its help text, and exits **0**: a
 *   configuration error, restarting it would loop forever;
 * - a token that is not base64 JSON exits 255 with `Provided Tunnel token is not valid.`;
 * - when the edge's SRV records cannot be looked up (offline, DNS broken) it exits 1 within a
 *   second: worth retrying, with backoff.
 * The help text never becomes the message: it says nothing about what went wrong.
 */
export function diagnoseExit(exitCode: number, output: readonly string[]): ExitDiagnosis {
  const usage = output.map((line) => /Incorrect Usage[.:] (.*)$/.exec(line)?.[1]).find(Boolean);
  if (usage)
    return {
      code: 'invalid_arguments',
      message: `cloudflared refused its command line (${usage}); not restarting until the settings change`,
      retry: false,
    };
  if (exitCode === 255 && output.some((line) => line.includes('Provided Tunnel token is not valid')))
    return {
      code: 'token_refused',
      message: 'cloudflared refused the tunnel token as invalid; not restarting until a new token arrives',
      retry: false,
    };
  const edge = output.findLast((line) =>
    /Could not lookup srv records|error looking up Cloudflare edge/.test(line),
  );
  if (edge)
    return {
      code: 'edge_unreachable',
      message: `cannot reach Cloudflare's edge (exit code ${exitCode}): ${edge.slice(-LAST_WORDS_CHARS)}`,
      retry: true,
    };
  const lastWords = output.slice(-LAST_WORDS_LINES).join(' | ').slice(-LAST_WORDS_CHARS);
  return {
    code: 'exited',
    message: `cloudflared exited with exit code ${exitCode}${lastWords ? `: ${lastWords}` : ''}`,
    retry: true,
  };
}
