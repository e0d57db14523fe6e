// Preload for a Node process to watch: `NODE_OPTIONS="--require <path>/bench/event-loop-stalls.cjs"`.
// Appends one JSON line per event-loop stall longer than EVENT_LOOP_STALL_MS (default 45) to
// <EVENT_LOOP_DELAY_DIR or cwd>/stalls-<pid>.jsonl: {fromUs, toUs, ms}. fromUs/toUs are on the
// monotonic clock a CPU profile's sample times use (bench/cpu-profile.cjs), so
// `node bench/stall-attribution.cjs stalls-<pid>.jsonl cpu-<pid>*.cpuprofile` can say what ran
// while the loop was held. A 5 ms timer: an idle loop costs 200 wake-ups a second.
// The main thread only: Node runs preloads in worker threads too (the master's WAL checkpointer).
if (require('node:worker_threads').isMainThread) {
  const fs = require('node:fs');
  const path = require('node:path');

  const file = path.join(process.env.EVENT_LOOP_DELAY_DIR ?? process.cwd(), `stalls-${process.pid}.jsonl`);
  const thresholdUs = Number(process.env.EVENT_LOOP_STALL_MS ?? 45) * 1000;
  let last = process.hrtime.bigint() / 1000n;
  setInterval(() => {
    const now = process.hrtime.bigint() / 1000n;
    if (Number(now - last) > thresholdUs) {
      const line = { fromUs: Number(last), toUs: Number(now), ms: Math.round(Number(now - last) / 1000) };
      // A watch must never end the process it watches: a line that cannot be written is skipped.
      try {
        fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
      } catch {}
    }
    last = now;
  }, 5).unref();
}
