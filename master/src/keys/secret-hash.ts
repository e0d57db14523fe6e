import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Hash of a key secret or admin token as stored in SQLite (hex SHA-256).
 * A fast hash is right here: the secrets are 32 random bytes (256 bits of entropy), so no
 * dictionary or brute-force attack on a leaked hash is feasible and a slow KDF (bcrypt, scrypt)
 * would only add latency to every agent request. Slow hashes exist for low-entropy passwords.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * Constant-time comparison of a presented secret with a stored hash. Both sides are fixed-length
 * digests, so `timingSafeEqual` never throws and the time taken reveals nothing about the secret.
 */
export function secretMatchesHash(secret: string, storedHash: string): boolean {
  const presented = createHash('sha256').update(secret, 'utf8').digest();
  const stored = Buffer.from(storedHash, 'hex');
  if (stored.length !== presented.length) return false;
  return timingSafeEqual(presented, stored);
}
