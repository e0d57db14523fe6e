/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export interface LatencySummary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export function formatMs(ms: number): string {
  if (Number.isNaN(ms)) return '—';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(2)} ms`;
}

export function formatRatio(baseline: number, measured: number): string {
  return measured > 0 ? `${(baseline / measured).toFixed(1)}×` : '∞';
}

/** Latency samples grouped by a name (an endpoint, a phase). */
export function createLatencyLog() {
  const samples = new Map<string, number[]>();
  return {
    add(name: string, ms: number): void {
      const list = samples.get(name);
      if (list) list.push(ms);
      else samples.set(name, [ms]);
    },
    names: (): string[] => [...samples.keys()].sort(),
    summary: (name: string): LatencySummary => summarize(samples.get(name) ?? []),
    all: (): number[] => [...samples.values()].flat(),
    clear: (): void => samples.clear(),
  };
}

export type LatencyLog = ReturnType<typeof createLatencyLog>;
