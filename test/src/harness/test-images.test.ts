import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDockerEngine } from './docker-engine.js';
import { containerIpAddress, removeContainersByLabel, TEST_CONTAINER_LABEL } from './test-containers.js';
import {
  CLOUDFLARED_IMAGE,
  CONTENT_HASH_LABEL,
  ensureRealCloudflaredImage,
  ensureTestImages,
  REAL_CLOUDFLARED_BINARY,
  REAL_CLOUDFLARED_IMAGE,
  TEST_BUSYBOX_IMAGE,
  TEST_CLOUDFLARED_IMAGE,
  TEST_CLOUDFLARED_NEVER_READY_IMAGE,
  TEST_CLOUDFLARED_NEXT_IMAGE,
  TEST_CLOUDFLARED_NEXT_VERSION,
  TEST_WEB_IMAGE,
} from './test-images.js';
import { uniqueName } from './unique-name.js';
import { waitFor } from './wait-for.js';

const METRICS_PORT = 20_241;
/** A stand-alone token: no edge URL, so the stand-in is ready without the emulator. */
const STANDALONE_TOKEN = Buffer.from(
  JSON.stringify({ a: 'account', t: 'tunnel-id', s: 'c2VjcmV0' }),
).toString('base64');

describe('local test images', () => {
  let docker: Docker;
  const run = uniqueName('harness-images');

  beforeAll(async () => {
    docker = await connectDockerEngine();
    await ensureTestImages(docker);
  });

  afterAll(async () => {
    await removeContainersByLabel(docker, `harness.test.run=${run}`);
  });

  async function startStandIn(env: string[], image = CLOUDFLARED_IMAGE): Promise<Docker.Container> {
    const container = await docker.createContainer({
      name: uniqueName('tf-standin'),
      Image: image,
      Cmd: ['tunnel', '--no-autoupdate', '--metrics', `0.0.0.0:${METRICS_PORT}`, 'run'],
      Env: env,
      Labels: { [TEST_CONTAINER_LABEL]: 'cloudflared', 'harness.test.run': run },
      HostConfig: { Init: true },
    });
    await container.start();
    return container;
  }

  async function logsOf(container: Docker.Container): Promise<string> {
    return (await container.logs({ stdout: true, stderr: true })).toString('utf8');
  }

  it('are all present, labelled with their content hash, and not rebuilt when unchanged', async () => {
    const before = await Promise.all(
      [TEST_BUSYBOX_IMAGE, TEST_WEB_IMAGE, TEST_CLOUDFLARED_IMAGE].map((tag) =>
        docker.getImage(tag).inspect(),
      ),
    );
    for (const image of before) expect(image.Config.Labels?.[CONTENT_HASH_LABEL]).toMatch(/^[0-9a-f]{32}$/);

    await ensureTestImages(await connectDockerEngine());

    const after = await Promise.all(
      [TEST_BUSYBOX_IMAGE, TEST_WEB_IMAGE, TEST_CLOUDFLARED_IMAGE].map((tag) =>
        docker.getImage(tag).inspect(),
      ),
    );
    expect(after.map((image) => image.Id)).toEqual(before.map((image) => image.Id));
  });

  it('builds the real cloudflared image from ../shared/bin beside the repository, shaped like the official one', async () => {
    expect(REAL_CLOUDFLARED_BINARY).toMatch(/\/shared\/bin\/cloudflared-2023\.7\.3-linux-amd64$/);
    await ensureRealCloudflaredImage(docker);
    const image = await docker.getImage(REAL_CLOUDFLARED_IMAGE).inspect();
    expect(image.Config).toMatchObject({
      User: 'nonroot',
      Entrypoint: ['/usr/local/bin/cloudflared', '--no-autoupdate'],
    });
    expect(image.Config.Labels?.[CONTENT_HASH_LABEL]).toMatch(/^[0-9a-f]{32}$/);
  });

  it('says where the real cloudflared belongs when the binary is missing', async () => {
    const missing = `/nonexistent/${uniqueName('shared')}/bin/cloudflared-2023.7.3-linux-amd64`;
    await expect(ensureRealCloudflaredImage(docker, missing)).rejects.toThrow(
      `real cloudflared not found at ${missing}: the contract tests need release 2023.7.3 there, in shared/bin/ beside the repository`,
    );
  });

  it('tags the stand-in under the real cloudflared name too', async () => {
    const [standIn, real] = await Promise.all(
      [TEST_CLOUDFLARED_IMAGE, CLOUDFLARED_IMAGE].map((tag) => docker.getImage(tag).inspect()),
    );
    expect(real?.Id).toBe(standIn?.Id);
    expect(real?.Config.User).toBe('nonroot');
  });

  it('the stand-in cloudflared with a stand-alone token answers /ready 200 on its metrics port', async () => {
    const container = await startStandIn([`TUNNEL_TOKEN=${STANDALONE_TOKEN}`]);
    const ip = await containerIpAddress(docker, container.id);
    const response = await waitFor(
      () => fetch(`http://${ip}:${METRICS_PORT}/ready`).then((r) => (r.status === 200 ? r : undefined)),
      { description: `stand-in cloudflared /ready on ${ip}:${METRICS_PORT} to answer 200` },
    );
    expect(await response.json()).toMatchObject({ status: 200, readyConnections: 1 });
    expect(await logsOf(container)).not.toContain(STANDALONE_TOKEN);
  });

  it("the stand-in reports its release in /metrics' build_info, as cloudflared does; the next tag another", async () => {
    for (const [image, version] of [
      [CLOUDFLARED_IMAGE, 'standin'],
      [TEST_CLOUDFLARED_NEXT_IMAGE, TEST_CLOUDFLARED_NEXT_VERSION],
    ] as const) {
      const container = await startStandIn([`TUNNEL_TOKEN=${STANDALONE_TOKEN}`], image);
      const ip = await containerIpAddress(docker, container.id);
      const metrics = await waitFor(
        () =>
          fetch(`http://${ip}:${METRICS_PORT}/metrics`).then((r) =>
            r.status === 200 ? r.text() : undefined,
          ),
        { description: `${image} /metrics on ${ip}:${METRICS_PORT}` },
      );
      expect(metrics).toContain(
        `build_info{goversion="standin",revision="standin",type="",version="${version}"} 1`,
      );
    }
  });

  it('the never-ready stand-in stays up, retrying a dead edge, and never answers /ready 200', async () => {
    const container = await startStandIn(
      [`TUNNEL_TOKEN=${STANDALONE_TOKEN}`],
      TEST_CLOUDFLARED_NEVER_READY_IMAGE,
    );
    const ip = await containerIpAddress(docker, container.id);
    const metrics = await waitFor(
      () =>
        fetch(`http://${ip}:${METRICS_PORT}/metrics`).then((r) => (r.status === 200 ? r.text() : undefined)),
      { description: `never-ready /metrics on ${ip}:${METRICS_PORT}` },
    );
    expect(metrics).toContain('cloudflared_tunnel_ha_connections 0');
    expect(metrics).toContain('version="never-ready"');
    // It has tried the edge and failed (twice: the backoff is running), and is still up and not ready.
    await waitFor(
      async () => ((await logsOf(container)).match(/Failed to connect to the edge/g) ?? []).length >= 2,
      {
        description: 'two failed connects',
      },
    );
    expect((await container.inspect()).State.Running).toBe(true);
    expect((await fetch(`http://${ip}:${METRICS_PORT}/ready`)).status).toBe(404);
    expect(await logsOf(container)).not.toContain(STANDALONE_TOKEN);
  });

  it('the stand-in without TUNNEL_TOKEN prints an error and exits 1', async () => {
    const container = await startStandIn([]);
    expect(await container.wait()).toMatchObject({ StatusCode: 1 });
    expect(await logsOf(container)).toMatch(/ERR .*requires the ID or name of the tunnel/);
  });

  it('the stand-in exits 3 when /tmp/standin-exit appears', async () => {
    const container = await startStandIn([`TUNNEL_TOKEN=${STANDALONE_TOKEN}`]);
    await waitFor(async () => (await container.inspect()).State.Running, {
      description: 'stand-in cloudflared to run',
    });
    const exec = await container.exec({ Cmd: ['touch', '/tmp/standin-exit'] });
    await exec.start({});
    expect(await container.wait()).toMatchObject({ StatusCode: 3 });
    expect(await logsOf(container)).toContain('/tmp/standin-exit appeared');
  });

  it('the stand-in stops promptly with status 0 on SIGTERM', async () => {
    const container = await startStandIn([`TUNNEL_TOKEN=${STANDALONE_TOKEN}`]);
    const ip = await containerIpAddress(docker, container.id);
    await waitFor(() => fetch(`http://${ip}:${METRICS_PORT}/ready`).then((r) => r.status === 200), {
      description: 'stand-in cloudflared to be ready',
    });
    await container.stop({ t: 10 });
    const state = (await container.inspect()).State;
    expect(state.ExitCode).toBe(0);
    expect(await logsOf(container)).toContain('INF Tunnel server stopped');
  });
});
