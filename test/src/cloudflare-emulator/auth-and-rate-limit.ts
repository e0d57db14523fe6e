import { apiErrors } from './errors.js';
import type { ApiToken, EmulatorState } from './state.js';

export interface RateLimitOptions {
  requests: number;
  windowSeconds: number;
}

/** Cloudflare's documented budget: 1200 requests per 5 minutes per token. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { requests: 1200, windowSeconds: 300 };

export function authenticate(state: EmulatorState, authorization: string | undefined): ApiToken {
  if (!authorization) throw apiErrors.missingAuth();
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match) throw apiErrors.authentication();
  for (const token of state.tokens.values()) {
    if (token.value === match[1]) return token;
  }
  throw apiErrors.authentication();
}

type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed window per token. Going over the budget blocks the token for a whole window from that
 * moment, like the live API ("further calls are blocked for the next five minutes").
 */
export function createRateLimiter(options: RateLimitOptions, now: () => number = Date.now) {
  const windows = new Map<string, { start: number; count: number; blockedUntil: number }>();
  const windowMs = options.windowSeconds * 1000;
  return {
    check(tokenId: string): RateDecision {
      const t = now();
      let entry = windows.get(tokenId);
      if (entry && t < entry.blockedUntil) {
        return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((entry.blockedUntil - t) / 1000)) };
      }
      if (!entry || t - entry.start >= windowMs) {
        entry = { start: t, count: 0, blockedUntil: 0 };
        windows.set(tokenId, entry);
      }
      entry.count += 1;
      if (entry.count > options.requests) {
        entry.blockedUntil = t + windowMs;
        return { allowed: false, retryAfterSeconds: options.windowSeconds };
      }
      return { allowed: true };
    },
    reset(): void {
      windows.clear();
    },
  };
}
