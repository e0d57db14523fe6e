// Preload for a Node process to watch: `NODE_OPTIONS="--require <path>/bench/memory-usage.cjs"`.
// Appends one JSON line every 5 s to <MEMORY_USAGE_DIR or cwd>/memory-<pid>.jsonl:
// process.memoryUsage() (rss, heapTotal, heapUsed, external, arrayBuffers) and the time, so RSS
// can be split into the JS heap and native memory (SQLite, buffers, malloc).
// The main thread only: Node runs preloads in worker threads too (the master's WAL checkpointer).
if (require('node:worker_threads').isMainThread) {
  const fs = require('node:fs');
  const path = require('node:path');

  const file = path.join(process.env.MEMORY_USAGE_DIR ?? process.cwd(), `memory-${process.pid}.jsonl`);
  setInterval(() => {
    // A watch must never end the process it watches: a sample that cannot be written is skipped.
    try {
      fs.appendFileSync(
        file,
        `${JSON.stringify({ at: new Date().toISOString(), ...process.memoryUsage() })}\n`,
      );
    } catch {}
  }, 5000).unref();
}
