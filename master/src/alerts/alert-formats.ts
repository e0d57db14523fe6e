import type { AlertEventType, AlertFormat } from '@tunnelfleet/common';
import type { AlertEventRecord } from '../store/alerts.js';

type Severity = 'critical' | 'warning' | 'resolved' | 'info';

const SEVERITY: Record<AlertEventType, Severity> = {
  'agent.offline': 'warning',
  'agent.online': 'resolved',
  'agent.revoked': 'warning',
  'cloudflared.unhealthy': 'critical',
  'cloudflared.recovered': 'resolved',
  'route.error': 'warning',
  'route.conflict': 'warning',
  'cloudflare.token_failed': 'critical',
  'cloudflare.budget_exhausted': 'critical',
  'rollout.halted': 'critical',
  'alert.test': 'info',
};

const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));

/** One line a person reads first, built only from the event's own data. */
function alertSummary(event: Pick<AlertEventRecord, 'type' | 'data'>): string {
  const d = event.data;
  const agent = text(d.agentName ?? d.agentId);
  const route = `${text(d.hostname)}${text(d.path)}`;
  switch (event.type) {
    case 'agent.offline':
      return `Agent ${agent} is offline (no heartbeat)`;
    case 'agent.online':
      return `Agent ${agent} is back online`;
    case 'agent.revoked':
      return `Agent ${agent} was revoked: ${text(d.reason)}`;
    case 'cloudflared.unhealthy':
      return `cloudflared on ${agent} is ${text(d.state)}${d.state === 'running' ? ' but not connected' : ''}`;
    case 'cloudflared.recovered':
      return `cloudflared on ${agent} is connected again`;
    case 'route.error':
      return `Route ${route} is in error: ${text(d.message)}`;
    case 'route.conflict':
      return `Route ${route} is in conflict: ${text(d.message)}`;
    case 'cloudflare.token_failed':
      return `Cloudflare token ${text(d.tokenName)} failed verification: ${text(d.message)}`;
    case 'cloudflare.budget_exhausted':
      return `Cloudflare call budget of token ${text(d.tokenName)} is exhausted (${text(d.queued)} calls queued${
        d.retryAfterSeconds === undefined ? '' : `, Cloudflare asks to wait ${text(d.retryAfterSeconds)} s`
      })`;
    case 'rollout.halted':
      return `Rollout ${text(d.rolloutId)} halted: ${text(d.message)}`;
    case 'alert.test':
      return `Test alert for receiver ${text(d.receiverName)}`;
  }
}

/** The `generic` body: a stable envelope receivers can parse (documented in docs/operations.md). */
function alertEnvelope(event: AlertEventRecord) {
  return {
    id: event.id,
    type: event.type,
    severity: SEVERITY[event.type],
    occurredAt: event.occurredAt,
    summary: alertSummary(event),
    data: event.data,
  };
}

export interface RenderedAlert {
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

const DISCORD_COLOR: Record<Severity, number> = {
  critical: 0xd32f2f,
  warning: 0xf9a825,
  resolved: 0x2e7d32,
  info: 0x1565c0,
};
const NTFY_PRIORITY: Record<Severity, string> = { critical: '5', warning: '4', resolved: '3', info: '3' };

/** The request body for a receiver's format; every format is signed the same way by the sender. */
export function renderAlert(format: AlertFormat, event: AlertEventRecord): RenderedAlert {
  const envelope = alertEnvelope(event);
  const fields = Object.entries(event.data).filter(([, value]) => value !== null && value !== undefined);
  switch (format) {
    case 'generic':
      return { body: JSON.stringify(envelope), contentType: 'application/json', headers: {} };
    case 'slack':
      // Incoming webhooks take `text` (the notification) and optional blocks.
      return {
        body: JSON.stringify({
          text: `[${envelope.severity}] ${envelope.summary}`,
          blocks: [
            { type: 'section', text: { type: 'mrkdwn', text: `*${envelope.summary}*` } },
            {
              type: 'context',
              elements: [
                { type: 'mrkdwn', text: `${event.type} · ${event.occurredAt} · ${event.id}` },
                ...fields
                  .slice(0, 9)
                  .map(([key, value]) => ({ type: 'mrkdwn', text: `${key}: ${text(value)}` })),
              ],
            },
          ],
        }),
        contentType: 'application/json',
        headers: {},
      };
    case 'discord':
      return {
        body: JSON.stringify({
          content: envelope.summary,
          embeds: [
            {
              title: event.type,
              description: envelope.summary,
              color: DISCORD_COLOR[envelope.severity],
              timestamp: event.occurredAt,
              fields: fields
                .slice(0, 25)
                .map(([name, value]) => ({ name, value: text(value).slice(0, 1024) || '-', inline: true })),
              footer: { text: event.id },
            },
          ],
        }),
        contentType: 'application/json',
        headers: {},
      };
    case 'ntfy':
      // Publishing to a topic URL: the message is the body, the rest goes in ntfy's headers.
      return {
        body: [envelope.summary, ...fields.map(([key, value]) => `${key}: ${text(value)}`)].join('\n'),
        contentType: 'text/plain; charset=utf-8',
        headers: {
          Title: `Tunnelfleet: ${event.type}`,
          Priority: NTFY_PRIORITY[envelope.severity],
          Tags: `tunnelfleet,${event.type.replace('.', '-')}`,
        },
      };
  }
}
