// Preload for a Node process to profile: `NODE_OPTIONS="--require <path>/bench/cpu-profile.cjs"`
// (Node refuses --cpu-prof in NODE_OPTIONS). Writes <CPU_PROFILE_DIR or cwd>/cpu-<pid>.cpuprofile
// when the process exits; open it in Chrome DevTools or read it with any .cpuprofile tool.
const fs = require('node:fs');
const inspector = require('node:inspector');
const path = require('node:path');

const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
process.on('exit', () => {
  // The in-thread session answers synchronously, so the profile is written before the exit completes.
  session.post('Profiler.stop', (error, result) => {
    if (error) return;
    const dir = process.env.CPU_PROFILE_DIR ?? process.cwd();
    fs.writeFileSync(path.join(dir, `cpu-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
