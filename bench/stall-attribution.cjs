// What the main thread ran while its event loop stalled:
//   node bench/stall-attribution.cjs stalls-<pid>.jsonl cpu-<pid>-*.cpuprofile [minMs=80]
// (bench/event-loop-stalls.cjs and bench/cpu-profile.cjs write them). Prints self and inclusive
// time over all stalls' samples, then for each stall of at least minMs its three largest parts,
// each named by the outermost frame of our own code on the stack (or the leaf when none is).
const fs = require('node:fs');

const [stallsFile, ...rest] = process.argv.slice(2);
const minMs = /^\d+$/.test(rest.at(-1) ?? '') ? Number(rest.pop()) : 80;
if (!stallsFile || rest.length === 0) {
  console.error('usage: node bench/stall-attribution.cjs <stalls.jsonl> <file.cpuprofile>... [minMs]');
  process.exit(2);
}
const stalls = fs
  .readFileSync(stallsFile, 'utf8')
  .trim()
  .split('\n')
  .filter(Boolean)
  .map((line) => ({ ...JSON.parse(line), parts: new Map() }));
const nameOf = ({ functionName, url, lineNumber }) =>
  `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}`;
const isOurs = (url) => url.includes('/dist/') && !url.includes('node_modules');
const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);

const self = new Map();
const inclusive = new Map();
let sampledUs = 0;
for (const file of rest) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  let time = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i];
    const stall = stalls.find((s) => time >= s.fromUs && time <= s.toUs);
    if (!stall) continue;
    const us = profile.timeDeltas[i + 1] ?? 0;
    sampledUs += us;
    const leaf = nodes.get(profile.samples[i]).callFrame;
    add(self, nameOf(leaf), us);
    const seen = new Set();
    let outermostOurs;
    for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const frame = nodes.get(id).callFrame;
      const name = nameOf(frame);
      if (isOurs(frame.url)) outermostOurs = name;
      if (seen.has(name)) continue;
      seen.add(name);
      add(inclusive, name, us);
    }
    add(stall.parts, outermostOurs ?? nameOf(leaf), us);
  }
}
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
const print = (title, map, top) => {
  console.log(`\n${title}`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${ms(us)} ${((100 * us) / sampledUs).toFixed(1).padStart(5)}%  ${name}`);
};
console.log(`${stalls.length} stalls, ${(sampledUs / 1000).toFixed(0)} ms of samples inside them`);
print('self time', self, 25);
print('inclusive time', inclusive, 50);
console.log(`\nstalls of ${minMs} ms or more, by their largest parts`);
for (const stall of stalls.filter((s) => s.ms >= minMs && s.parts.size > 0)) {
  const parts = [...stall.parts].sort((a, b) => b[1] - a[1]).slice(0, 3);
  console.log(
    `${String(stall.ms).padStart(5)} ms  ${parts.map(([name, us]) => `${name} ${(us / 1000).toFixed(0)}`).join(' | ')}`,
  );
}
