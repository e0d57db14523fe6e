import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDockerEngine } from './docker-engine.js';
import { HarnessError } from './harness-error.js';
import { removeContainersByLabel, startTestWebContainer, TEST_CONTAINER_LABEL } from './test-containers.js';
import { uniqueName } from './unique-name.js';
import { waitFor } from './wait-for.js';

describe('connectDockerEngine', () => {
  it('fails with a message naming the address and the fix when no engine answers', async () => {
    const error = await connectDockerEngine('unix:///nonexistent/docker.sock').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HarnessError);
    expect((error as Error).message).toMatch(
      /^No Docker engine at unix:\/\/\/nonexistent\/docker\.sock: run bash scripts\/provision/,
    );
  });
});

describe('test web containers on the real engine', () => {
  let docker: Docker;
  const run = uniqueName('harness-run');

  beforeAll(async () => {
    docker = await connectDockerEngine();
  });

  afterAll(async () => {
    await removeContainersByLabel(docker, `harness.test.run=${run}`);
  });

  it('lists a labelled container by label filter, with its labels', async () => {
    const web = await startTestWebContainer(docker, {
      labels: {
        'harness.test.run': run,
        'tunnelfleet.enable': 'true',
        'tunnelfleet.hostname': 'app.example.com',
      },
    });
    const listed = await docker.listContainers({ filters: { label: [`harness.test.run=${run}`] } });
    expect(listed.map((info) => info.Id)).toEqual([web.id]);
    expect(listed[0]?.Labels).toMatchObject({
      'harness.test.run': run,
      'tunnelfleet.enable': 'true',
      'tunnelfleet.hostname': 'app.example.com',
      [TEST_CONTAINER_LABEL]: 'web',
    });
    expect(listed[0]?.Names).toEqual([`/${web.name}`]);
  });

  it('serves its hostname over HTTP on its bridge address', async () => {
    const web = await startTestWebContainer(docker, { labels: { 'harness.test.run': run } });
    const ip = await web.ipAddress();
    const hostname = (await docker.getContainer(web.id).inspect()).Config.Hostname;
    const body = await waitFor(() => fetch(`http://${ip}/`).then((response) => response.text()), {
      description: `web container ${web.name} to answer on ${ip}:80`,
    });
    expect(body.trim()).toBe(hostname);
  });

  it('removeContainersByLabel removes running and stopped containers and nothing else', async () => {
    const doomed = uniqueName('harness-doomed');
    const running = await startTestWebContainer(docker, { labels: { 'harness.test.run': run, doomed } });
    const created = await startTestWebContainer(docker, {
      labels: { 'harness.test.run': run, doomed },
      start: false,
    });
    const survivor = await startTestWebContainer(docker, { labels: { 'harness.test.run': run } });

    expect(await removeContainersByLabel(docker, `doomed=${doomed}`)).toBe(2);

    const left = await docker.listContainers({ all: true, filters: { label: [`harness.test.run=${run}`] } });
    const ids = left.map((info) => info.Id);
    expect(ids).toContain(survivor.id);
    expect(ids).not.toContain(running.id);
    expect(ids).not.toContain(created.id);
  });
});
