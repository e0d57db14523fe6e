/**
 * Report sequence numbers that keep increasing across agent restarts without persisting anything:
 * seeded from the clock in microseconds (≈ 1.7e15 today, far below 2^53) and then incremented,
 * never going back even if the clock does.
 */
export function createReportSequencer(nowMs: () => number = Date.now): () => number {
  let last = 0;
  return () => {
    last = Math.max(last + 1, Math.floor(nowMs()) * 1000);
    return last;
  };
}
