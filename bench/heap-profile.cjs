// Preload for a Node process to profile its allocations: `NODE_OPTIONS="--require <path>/bench/heap-profile.cjs"`.
// Samples every allocation site, collected objects included (so the profile shows what is
// allocated, not only what is still alive), and writes <HEAP_PROFILE_DIR or cwd>/heap-<pid>.heapprofile
// when the process exits; open it in Chrome DevTools (Memory tab) or sum it with any script.
// HEAP_PROFILE_PROMOTED=1 leaves out what died young (collected by a scavenge): the profile then
// shows what reached the old generation, which is what its major collections have to mark and sweep.
// HEAP_PROFILE_SLICE_SECONDS=N also writes heap-<pid>-<k>.heapprofile every N seconds (then starts
// again), so a phase of a long run (a benchmark's steady phase) can be read on its own.
// The main thread only: Node runs preloads in worker threads too (the master's WAL checkpointer).
if (require('node:worker_threads').isMainThread) {
  const fs = require('node:fs');
  const inspector = require('node:inspector');
  const path = require('node:path');

  const session = new inspector.Session();
  session.connect();
  session.post('HeapProfiler.enable');
  const start = () =>
    session.post('HeapProfiler.startSampling', {
      // Promoted objects are far fewer than allocations: sample them more finely.
      samplingInterval: process.env.HEAP_PROFILE_PROMOTED === '1' ? 32 * 1024 : 256 * 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: process.env.HEAP_PROFILE_PROMOTED !== '1',
    });
  const dir = process.env.HEAP_PROFILE_DIR ?? process.cwd();
  const write = (name) =>
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error) return;
      fs.writeFileSync(path.join(dir, name), JSON.stringify(result.profile));
    });
  start();
  const sliceSeconds = Number(process.env.HEAP_PROFILE_SLICE_SECONDS ?? 0);
  if (sliceSeconds > 0) {
    let slice = 0;
    setInterval(() => {
      write(`heap-${process.pid}-${String(++slice).padStart(3, '0')}.heapprofile`);
      start();
    }, sliceSeconds * 1000).unref();
  }
  process.on('exit', () => write(`heap-${process.pid}.heapprofile`));
}
