// Preload for a Node process to watch: `NODE_OPTIONS="--require <path>/bench/event-loop-delay.cjs"`.
// Appends one JSON line every 5 s to <EVENT_LOOP_DELAY_DIR or cwd>/event-loop-<pid>.jsonl: the
// event loop's delay over those 5 s (p50, p99, max in ms) and the time, so a slow answer can be
// told apart as the master's own loop being held (a long synchronous pass, a GC pause) or as
// waiting elsewhere (a CPU taken by other processes, the client).
// The histogram's timer runs every 10 ms, and an idle loop reads about 10 ms: subtract it.
// Beside it, the garbage collector's pauses in the same 5 s: how many major ones (mark-compact),
// their longest, and the time all pauses took, so a stall can be told apart as GC or as code.
// The main thread only: Node runs preloads in worker threads too (the master's WAL checkpointer).
if (require('node:worker_threads').isMainThread) {
  const fs = require('node:fs');
  const path = require('node:path');
  const { constants, monitorEventLoopDelay, PerformanceObserver } = require('node:perf_hooks');

  const file = path.join(
    process.env.EVENT_LOOP_DELAY_DIR ?? process.cwd(),
    `event-loop-${process.pid}.jsonl`,
  );
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  let gc = { major: 0, majorMaxMs: 0, pausedMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.pausedMs += entry.duration;
      if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        gc.major += 1;
        gc.majorMaxMs = Math.max(gc.majorMaxMs, entry.duration);
      }
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    const line = {
      at: new Date().toISOString(),
      p50: ms(histogram.percentile(50)),
      p99: ms(histogram.percentile(99)),
      max: ms(histogram.max),
      gcMajor: gc.major,
      gcMajorMaxMs: Math.round(gc.majorMaxMs * 100) / 100,
      gcPausedMs: Math.round(gc.pausedMs * 100) / 100,
    };
    histogram.reset();
    gc = { major: 0, majorMaxMs: 0, pausedMs: 0 };
    // A watch must never end the process it watches: a sample that cannot be written (EMFILE under
    // load) is skipped.
    try {
      fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {}
  }, 5000).unref();
}
