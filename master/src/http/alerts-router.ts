import {
  ADMIN_API_PREFIX,
  type AlertReceiverResponse,
  alertDeliveriesQuerySchema,
  alertReceiverParamsSchema,
  type CreateAlertReceiverResponse,
  createAlertReceiverRequestSchema,
  type ListAlertDeliveriesResponse,
  type ListAlertReceiversResponse,
  parseOrThrow,
  type TestAlertResponse,
  updateAlertReceiverRequestSchema,
} from '@tunnelfleet/common';
import { Router } from 'express';
import type { AlertService } from '../alerts/alert-service.js';
import { send } from './admin-router.js';
import { actorOf } from './authentication.js';
import { jsonBody } from './json-body.js';

export interface AlertsRouterDeps {
  alerts: AlertService;
}

/** `/api/v1/admin/alerts/…`: webhook receivers, a test send, and the delivery log. */
export function alertsRouter(deps: AlertsRouterDeps): Router {
  const { alerts } = deps;
  const router = Router();
  const base = `${ADMIN_API_PREFIX}/alerts`;

  router.post(`${base}/receivers`, jsonBody(), (req, res) => {
    const body = parseOrThrow(createAlertReceiverRequestSchema, req.body, 'alert receiver body');
    send<CreateAlertReceiverResponse>(res, 201, alerts.createReceiver(body, actorOf(res)));
  });

  router.get(`${base}/receivers`, (_req, res) => {
    send<ListAlertReceiversResponse>(res, 200, { receivers: alerts.listReceivers() });
  });

  router.get(`${base}/receivers/:id`, (req, res) => {
    const { id } = parseOrThrow(alertReceiverParamsSchema, { ...req.params }, 'path');
    send<AlertReceiverResponse>(res, 200, { receiver: alerts.getReceiver(id) });
  });

  router.patch(`${base}/receivers/:id`, jsonBody(), (req, res) => {
    const { id } = parseOrThrow(alertReceiverParamsSchema, { ...req.params }, 'path');
    const body = parseOrThrow(updateAlertReceiverRequestSchema, req.body, 'alert receiver body');
    send<AlertReceiverResponse>(res, 200, { receiver: alerts.updateReceiver(id, body, actorOf(res)) });
  });

  router.delete(`${base}/receivers/:id`, (req, res) => {
    const { id } = parseOrThrow(alertReceiverParamsSchema, { ...req.params }, 'path');
    alerts.removeReceiver(id, actorOf(res));
    res.status(204).end();
  });

  router.post(`${base}/receivers/:id/test`, (req, res) => {
    const { id } = parseOrThrow(alertReceiverParamsSchema, { ...req.params }, 'path');
    send<TestAlertResponse>(res, 202, { delivery: alerts.sendTest(id, actorOf(res)) });
  });

  router.get(`${base}/deliveries`, (req, res) => {
    const query = parseOrThrow(alertDeliveriesQuerySchema, { ...req.query }, 'query');
    send<ListAlertDeliveriesResponse>(res, 200, { deliveries: alerts.listDeliveries(query) });
  });

  return router;
}
