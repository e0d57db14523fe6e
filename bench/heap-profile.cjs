// Preload for a Node process to profile its allocations: `NODE_OPTIONS="--require <path>/bench/heap-profile.cjs"`.
// Samples every allocation site, collected objects included (so the profile shows what is
// allocated, not only what is still alive), and writes <HEAP_PROFILE_DIR or cwd>/heap-<pid>.heapprofile
// when the process exits; open it in Chrome DevTools (Memory tab) or sum it with any script.
const fs = require('node:fs');
const inspector = require('node:inspector');
const path = require('node:path');

const session = new inspector.Session();
session.connect();
session.post('HeapProfiler.enable');
session.post('HeapProfiler.startSampling', {
  samplingInterval: 256 * 1024,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});
process.on('exit', () => {
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) return;
    const dir = process.env.HEAP_PROFILE_DIR ?? process.cwd();
    fs.writeFileSync(path.join(dir, `heap-${process.pid}.heapprofile`), JSON.stringify(result.profile));
  });
});
