import { request as httpRequest } from 'node:http';
import { GATEWAY_PROXY_PORT, gatewayNames } from '@tunnelfleet/common';
import type Docker from 'dockerode';
import { waitFor } from '../harness/wait-for.js';
import type { Fleet } from '../system/fleet.js';
import { CONVERGE_TIMEOUT_MS, cloudView, rulesFor } from './support.js';

/**
 * Everything Cloudflare holds for one hostname, serialised: its records, its ingress rules in every
 * tunnel, its Access apps. Host A's tunnel also carries the labelled containers of other test
 * files on the main engine, so the comparison is of this hostname's objects, whole.
 */
export function hostnameState(f: Fleet, hostname: string): string {
  const view = cloudView(f);
  return JSON.stringify({
    records: view.records.filter((record) => record.name === hostname),
    rules: rulesFor(view, hostname),
    apps: view.apps.filter((app) => app.domain.split('/')[0] === hostname),
  });
}

/** One request to host A's gateway as cloudflared sends it: to its proxy port, with the public Host. */
export function throughGateway(
  address: string,
  hostname: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: address,
        port: GATEWAY_PROXY_PORT,
        path: '/',
        headers: { host: hostname, accept: 'application/json', ...headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Host A's gateway container's address on its cloudflared network (where cloudflared reaches it). */
export async function gatewayAddress(docker: Docker, agentId: string, network: string): Promise<string> {
  return waitFor(
    async () => {
      const info = await docker
        .getContainer(gatewayNames(agentId).container)
        .inspect()
        .catch(() => undefined);
      return info?.State.Running ? info.NetworkSettings.Networks[network]?.IPAddress || undefined : undefined;
    },
    { description: "host A's gateway running", timeoutMs: CONVERGE_TIMEOUT_MS },
  );
}
