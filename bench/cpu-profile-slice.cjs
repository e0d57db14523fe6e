// Self time by function in one slice of a .cpuprofile (bench/cpu-profile.cjs writes them):
//   node bench/cpu-profile-slice.cjs cpu-123.cpuprofile [fromUs] [toUs] [top=30]
// fromUs/toUs are monotonic-clock microseconds (what budget-scale's progress lines print);
// without them, the whole profile. Idle, GC and program time are listed like functions.
const fs = require('node:fs');

const [file, fromArg, toArg, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/cpu-profile-slice.cjs <file.cpuprofile> [fromUs] [toUs] [top]');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const from = fromArg ? Number(fromArg) : Number.NEGATIVE_INFINITY;
const to = toArg ? Number(toArg) : Number.POSITIVE_INFINITY;
const top = topArg ? Number(topArg) : 30;

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const nameOf = (node) => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map();
const total = new Map();
let time = profile.startTime;
let sliceUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  time += profile.timeDeltas[i];
  if (time < from || time > to) continue;
  const delta = profile.timeDeltas[i + 1] ?? 0;
  sliceUs += delta;
  const id = profile.samples[i];
  const leaf = nameOf(nodes.get(id));
  self.set(leaf, (self.get(leaf) ?? 0) + delta);
  // Inclusive time: every distinct frame on the sample's stack.
  const seen = new Set();
  for (let at = id; at !== undefined; at = parent.get(at)) {
    const name = nameOf(nodes.get(at));
    if (seen.has(name)) continue;
    seen.add(name);
    total.set(name, (total.get(name) ?? 0) + delta);
  }
}
const idle = self.get('(idle)') ?? 0;
console.log(`slice ${(sliceUs / 1e6).toFixed(2)} s, busy ${((sliceUs - idle) / 1e6).toFixed(2)} s`);
const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${(us / 1e3).toFixed(0).padStart(8)} ms ${((100 * us) / sliceUs).toFixed(1).padStart(5)}%  ${name}`,
    );
  }
};
print('self time', self);
print('inclusive time', total);
