import {
  ADMIN_API_PREFIX,
  addSharedTunnelMemberRequestSchema,
  createSharedTunnelRequestSchema,
  type DeleteSharedTunnelResponse,
  type ListSharedTunnelsResponse,
  parseOrThrow,
  type SharedTunnelResponse,
  sharedTunnelMemberParamsSchema,
  sharedTunnelParamsSchema,
} from '@tunnelfleet/common';
import { Router } from 'express';
import type { SharedTunnelService } from '../agents/shared-tunnel-service.js';
import { send } from './admin-router.js';
import { actorOf } from './authentication.js';
import { jsonBody } from './json-body.js';

export interface SharedTunnelsRouterDeps {
  sharedTunnels: SharedTunnelService;
}

/** `/api/v1/admin/tunnels/…`: shared tunnels and their member agents. */
export function sharedTunnelsRouter(deps: SharedTunnelsRouterDeps): Router {
  const { sharedTunnels } = deps;
  const router = Router();
  const base = `${ADMIN_API_PREFIX}/tunnels`;
  router.get(base, async (_req, res) => {
    send<ListSharedTunnelsResponse>(res, 200, { tunnels: await sharedTunnels.list() });
  });

  router.post(base, jsonBody(), async (req, res) => {
    const body = parseOrThrow(createSharedTunnelRequestSchema, req.body, 'shared tunnel body');
    send<SharedTunnelResponse>(res, 201, { tunnel: await sharedTunnels.create(body, actorOf(res)) });
  });

  router.get(`${base}/:name`, async (req, res) => {
    const { name } = parseOrThrow(sharedTunnelParamsSchema, { ...req.params }, 'path');
    send<SharedTunnelResponse>(res, 200, { tunnel: await sharedTunnels.get(name) });
  });

  router.delete(`${base}/:name`, async (req, res) => {
    const { name } = parseOrThrow(sharedTunnelParamsSchema, { ...req.params }, 'path');
    send<DeleteSharedTunnelResponse>(res, 200, await sharedTunnels.remove(name, actorOf(res)));
  });

  router.post(`${base}/:name/rotate-secret`, async (req, res) => {
    const { name } = parseOrThrow(sharedTunnelParamsSchema, { ...req.params }, 'path');
    send<SharedTunnelResponse>(res, 200, { tunnel: await sharedTunnels.rotateSecret(name, actorOf(res)) });
  });

  router.post(`${base}/:name/members`, jsonBody(), async (req, res) => {
    const { name } = parseOrThrow(sharedTunnelParamsSchema, { ...req.params }, 'path');
    const { agentId } = parseOrThrow(addSharedTunnelMemberRequestSchema, req.body, 'member body');
    send<SharedTunnelResponse>(res, 200, {
      tunnel: await sharedTunnels.addMember(name, agentId, actorOf(res)),
    });
  });

  router.delete(`${base}/:name/members/:agentId`, async (req, res) => {
    const { name, agentId } = parseOrThrow(sharedTunnelMemberParamsSchema, { ...req.params }, 'path');
    send<SharedTunnelResponse>(res, 200, {
      tunnel: await sharedTunnels.removeMember(name, agentId, actorOf(res)),
    });
  });

  return router;
}
