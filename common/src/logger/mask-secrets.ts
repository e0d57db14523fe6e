import { REDACTED } from './redact-paths.js';

/**
 * Secret shapes masked inside any text, including the final JSON line: no pattern may consume `"` or
 * `\\`, or it would break the line's escaping. The API key keeps its public key id so an operator can
 * still tell which key was used.
 */
const SHAPES: ReadonlyArray<[RegExp, string]> = [
  // Agent API key tfk_<keyId>_<secret>
  [/\btfk_([0-9a-f]{16})_[A-Za-z0-9_-]+/g, `tfk_$1_${REDACTED}`],
  // Dashboard viewer token tfv_<tokenId>_<secret>
  [/\btfv_([0-9a-f]{16})_[A-Za-z0-9_-]+/g, `tfv_$1_${REDACTED}`],
  // Admin token, or a malformed key that still has our prefix (not one masked just above)
  [/\btf[akv]_(?![0-9a-f]{16}_\[)[A-Za-z0-9_-]{8,}/g, REDACTED],
  // HTTP credentials
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  // Tunnel tokens and JWTs: base64 of a JSON object, "eyJ…"
  [/\beyJ[A-Za-z0-9+/=_-]{16,}(\.[A-Za-z0-9+/=_-]*)*/g, REDACTED],
  // NAME=value environment assignments of secret-looking names (docker create Env arrays)
  [/\b([A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|API_KEY)S?)=[^\s"'\\,;]+/g, `$1=${REDACTED}`],
  // Passwords in URLs: scheme://user:password@host
  [/(\/\/[^/\s:@"\\]*:)[^@\s/"\\]+@/g, `$1${REDACTED}@`],
];

/** Literal secrets shorter than this are not masked: they would censor ordinary words. */
const MIN_LITERAL_LENGTH = 8;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Builds a masker for text: known shapes plus the literal `secrets` given (e.g. the master's
 * Cloudflare API tokens, which have no recognisable shape).
 */
export function createSecretMasker(secrets: readonly string[] = []): (text: string) => string {
  const literals = secrets.filter((secret) => secret.length >= MIN_LITERAL_LENGTH).map(escapeRegExp);
  // Longest first so a secret containing another is masked whole.
  literals.sort((a, b) => b.length - a.length);
  const literal = literals.length > 0 ? new RegExp(literals.join('|'), 'g') : undefined;
  return (text) => {
    let masked = literal ? text.replace(literal, REDACTED) : text;
    for (const [pattern, replacement] of SHAPES) masked = masked.replace(pattern, replacement);
    return masked;
  };
}

/** Masks our secret shapes inside `text`. */
export const maskSecrets = createSecretMasker();
