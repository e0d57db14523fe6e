// Preload for a Node process to profile: `NODE_OPTIONS="--require <path>/bench/cpu-profile.cjs"`
// (Node refuses --cpu-prof in NODE_OPTIONS). Writes <CPU_PROFILE_DIR or cwd>/cpu-<pid>.cpuprofile
// when the process exits; open it in Chrome DevTools or read it with any .cpuprofile tool.
// CPU_PROFILE_SLICE_SECONDS=N also writes cpu-<pid>-<k>.cpuprofile every N seconds (then starts
// again): a process that is killed, or whose event loop stalls for a while, still leaves the
// slices before, each with its own time range.
// The main thread only: Node runs preloads in worker threads too (the master's WAL checkpointer).
if (require('node:worker_threads').isMainThread) {
  const fs = require('node:fs');
  const inspector = require('node:inspector');
  const path = require('node:path');

  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  const dir = process.env.CPU_PROFILE_DIR ?? process.cwd();
  const write = (name) =>
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      fs.writeFileSync(path.join(dir, name), JSON.stringify(result.profile));
    });
  const sliceSeconds = Number(process.env.CPU_PROFILE_SLICE_SECONDS ?? 0);
  if (sliceSeconds > 0) {
    let slice = 0;
    setInterval(() => {
      write(`cpu-${process.pid}-${String(++slice).padStart(3, '0')}.cpuprofile`);
      session.post('Profiler.start');
    }, sliceSeconds * 1000).unref();
  }
  process.on('exit', () => {
    // The in-thread session answers synchronously, so the profile is written before the exit completes.
    write(`cpu-${process.pid}.cpuprofile`);
  });
}
