import { randomBytes } from 'node:crypto';

/**
 * Agent API keys look like `tfk_<keyId>_<secret>`:
 * - `keyId`: 16 lower-case hex characters, public, the lookup key for the stored hash;
 * - `secret`: 32 random bytes in base64url (43 characters), only ever stored hashed.
 * The fixed prefix makes keys recognisable for log redaction and secret scanners.
 * Admin tokens are `tfa_<secret>` with the same secret format; read-only viewer tokens of the
 * dashboard are `tfv_<tokenId>_<secret>`, shaped like agent keys so they are looked up the same way.
 */
const API_KEY_PREFIX = 'tfk_';
const ADMIN_TOKEN_PREFIX = 'tfa_';
const VIEWER_TOKEN_PREFIX = 'tfv_';

const SECRET_BYTES = 32;
const KEY_PATTERN = /^tfk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const VIEWER_TOKEN_PATTERN = /^tfv_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** Matches keys and admin tokens anywhere inside a text. For logs use `maskSecrets`, which knows more shapes. */
export const SECRET_TOKEN_PATTERN = /\btf[kav]_[A-Za-z0-9_-]{16,}/g;

interface ApiKeyParts {
  keyId: string;
  secret: string;
}

function generateIdAndSecret(prefix: string): { key: string } & ApiKeyParts {
  const keyId = randomBytes(8).toString('hex');
  const secret = randomBytes(SECRET_BYTES).toString('base64url');
  return { key: `${prefix}${keyId}_${secret}`, keyId, secret };
}

export function generateApiKey(): { key: string } & ApiKeyParts {
  return generateIdAndSecret(API_KEY_PREFIX);
}

/** A dashboard viewer token `tfv_<tokenId>_<secret>`: signs in read-only. */
export function generateViewerToken(): { key: string } & ApiKeyParts {
  return generateIdAndSecret(VIEWER_TOKEN_PREFIX);
}

/** Splits a presented viewer token; `null` when it is not one. */
export function parseViewerToken(token: string): ApiKeyParts | null {
  const match = VIEWER_TOKEN_PATTERN.exec(token);
  return match ? { keyId: match[1]!, secret: match[2]! } : null;
}

/** Splits a presented key; `null` when it is not in our format (answer 401, do not look it up). */
export function parseApiKey(key: string): ApiKeyParts | null {
  const match = KEY_PATTERN.exec(key);
  return match ? { keyId: match[1]!, secret: match[2]! } : null;
}

export function generateAdminToken(): string {
  return `${ADMIN_TOKEN_PREFIX}${randomBytes(SECRET_BYTES).toString('base64url')}`;
}
