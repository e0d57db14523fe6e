/**
 * Benchmark: how long a host's tunnel has no connector while its cloudflared is replaced — by a
 * secret rotation (`POST /agents/:id/rotate-secret`) and by an image change (`PUT
 * /agents/:id/cloudflared`, applied at once) — with the agent's overlap off
 * (`CLOUDFLARED_OVERLAP_SECONDS=0`: the old container stops before the new one starts, the
 * same-run baseline) and on (the default: the old one serves until the new one is ready). Real
 * master and agents (`startFleet`, host B on a private second engine), the stand-in cloudflared,
 * the emulator and its edge.
 * Gap = the new connector's `openedAt` at the edge − the old container's `die` event, floored at 0
 * (negative: the new one was connected before the old one died).
 *
 *   pnpm build && node test/dist/bench/rotation-gap.js [replacements=8]
 */
import { containerDiedAt } from '../harness/container-events.js';
import { CLOUDFLARED_IMAGE, TEST_CLOUDFLARED_NEXT_IMAGE } from '../harness/test-images.js';
import { waitFor } from '../harness/wait-for.js';
import { type Fleet, startFleet } from '../system/index.js';
import { formatMs, summarize } from './latency-stats.js';

/** Host B's engine is private to this run (no test file uses it). */
const SECOND_ENGINE = 'docker26';
const TIMEOUT_MS = 60_000;

type Kind = 'rotation' | 'image change';

async function replaceOnce(fleet: Fleet, tunnelId: string, kind: Kind, image: string): Promise<number> {
  const { b, admin, emulator } = fleet;
  const agentId = await b.agentId();
  const old = await waitFor(
    async () => {
      const running = (await b.cloudflared()).filter((c) => c.State === 'running');
      return running.length === 1 && emulator.tunnelConnections(tunnelId).length > 0 ? running[0] : undefined;
    },
    { description: "host B's one cloudflared, connected", timeoutMs: TIMEOUT_MS },
  );
  const before = new Set(emulator.tunnelConnections(tunnelId).map((c) => c.connectorId));
  const startedAt = Date.now();
  if (kind === 'rotation') await admin.rotateSecret(agentId);
  else await admin.setCloudflared({ image }, agentId);
  const fresh = await waitFor(
    () => emulator.tunnelConnections(tunnelId).find((c) => !before.has(c.connectorId)),
    { description: "host B's new connector", timeoutMs: TIMEOUT_MS },
  );
  await waitFor(async () => !(await b.cloudflared()).some((c) => c.Id === old.Id), {
    description: 'the old cloudflared gone',
    timeoutMs: TIMEOUT_MS,
  });
  const died = await containerDiedAt(b.docker, old.Id, startedAt - 1000);
  return Math.max(0, Date.parse(String(fresh.openedAt)) - died);
}

async function measure(overlapSeconds: number, replacements: number): Promise<Record<Kind, number[]>> {
  const fleet = await startFleet({
    secondEngine: SECOND_ENGINE,
    masterEnv: { LOG_LEVEL: 'warn' },
    agentEnv: { LOG_LEVEL: 'warn', CLOUDFLARED_OVERLAP_SECONDS: String(overlapSeconds) },
  });
  const gaps: Record<Kind, number[]> = { rotation: [], 'image change': [] };
  try {
    const agentId = await fleet.b.agentId();
    const tunnelId = await waitFor(async () => (await fleet.admin.agent(agentId)).tunnel?.id, {
      description: 'the agent tunnel',
      timeoutMs: TIMEOUT_MS,
    });
    for (let i = 0; i < replacements; i++) {
      gaps.rotation.push(await replaceOnce(fleet, tunnelId, 'rotation', ''));
      const image = i % 2 === 0 ? TEST_CLOUDFLARED_NEXT_IMAGE : CLOUDFLARED_IMAGE;
      gaps['image change'].push(await replaceOnce(fleet, tunnelId, 'image change', image));
    }
  } finally {
    await fleet.teardown();
  }
  return gaps;
}

async function main(): Promise<void> {
  const [replacements = 8] = process.argv.slice(2).map(Number);
  const rows: string[] = [];
  for (const overlap of [0, 20]) {
    const gaps = await measure(overlap, replacements);
    for (const kind of ['rotation', 'image change'] as const) {
      const s = summarize(gaps[kind]);
      const zero = gaps[kind].filter((gap) => gap === 0).length;
      rows.push(
        `| ${overlap === 0 ? 'off (baseline)' : `${overlap} s`} | ${kind} | ${s.n} | ${zero} | ${formatMs(s.p50)} | ${formatMs(s.p90)} | ${formatMs(s.max)} |`,
      );
    }
  }
  process.stdout.write(
    `| overlap | replacement | n | gap 0 | p50 gap | p90 gap | max gap |\n| --- | --- | --- | --- | --- | --- | --- |\n${rows.join('\n')}\n`,
  );
}

await main();
