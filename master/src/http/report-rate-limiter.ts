import { RateLimitedError } from '@tunnelfleet/common';

export interface ReportRateOptions {
  /** Tokens an agent may spend at once after a quiet spell: its start-up or reconnect burst. */
  burst: number;
  /** Tokens given back per minute once the burst is spent. */
  perMinute: number;
  now?: () => number;
}

export interface ReportRateLimiter {
  /**
   * Takes a report's tokens from the agent's bucket, or returns the 429 to answer instead: one
   * token, plus one per 256 KiB of body (`bodyBytes`, from Content-Length), since parsing and
   * checking a report costs the master in proportion to its size.
   */
  take(agentId: string, bodyBytes: number): RateLimitedError | undefined;
}

/** Body bytes that cost one more token. */
const BYTES_PER_TOKEN = 256 * 1024;

/**
 * Token bucket per agent for `POST /api/v1/agent/reports`, checked before the body is read, so an
 * agent sending large snapshots in a loop is held to a bounded share of the master's time: a
 * snapshot costs a token per 256 KiB (measured: 0.1 s of parsing and schema checks for the
 * largest snapshot, 16 MB of long labels, 63 tokens; 0.2 to 0.6 s for 2.8 MB of 256 short labels
 * on each of 1,000 containers, 11 tokens). A real agent spends the burst at start-up (one
 * snapshot, then one event per container that starts), and when refused it waits for Retry-After
 * and sends one snapshot that carries every change it held back.
 * In memory: it guards this process. Full buckets are dropped when the table grows, so deleted
 * agents do not accumulate.
 */
export function createReportRateLimiter(options: ReportRateOptions): ReportRateLimiter {
  const { burst, perMinute } = options;
  const now = options.now ?? Date.now;
  const tokensPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const refilled = (bucket: { tokens: number; at: number }, at: number) =>
    Math.min(burst, bucket.tokens + (at - bucket.at) * tokensPerMs);

  return {
    take(agentId, bodyBytes) {
      const at = now();
      // Never more than a full bucket, or a large report could never pass.
      const cost = Math.min(burst, 1 + Math.floor(bodyBytes / BYTES_PER_TOKEN));
      let bucket = buckets.get(agentId);
      if (bucket === undefined) {
        if (buckets.size >= 10_000) {
          for (const [id, other] of buckets) if (refilled(other, at) >= burst) buckets.delete(id);
        }
        bucket = { tokens: burst, at };
        buckets.set(agentId, bucket);
      }
      bucket.tokens = refilled(bucket, at);
      bucket.at = at;
      if (bucket.tokens >= cost) {
        bucket.tokens -= cost;
        return undefined;
      }
      const retryAfterSeconds = (cost - bucket.tokens) / tokensPerMs / 1000;
      return new RateLimitedError(
        retryAfterSeconds,
        `too many reports from this agent (at most ${perMinute} a minute after a burst of ${burst}); send one snapshot after Retry-After`,
      );
    },
  };
}
