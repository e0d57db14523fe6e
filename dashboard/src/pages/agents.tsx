import type { AgentView } from '@tunnelfleet/common/admin-api';
import { useState } from 'react';
import { api } from '../api.js';
import { ConfirmDialog } from '../components/confirm-dialog.js';
import { Link } from '../components/link.js';
import { Ago, Badge, Empty, ErrorNote } from '../components/status.js';
import { useData } from '../components/use-data.js';
import { canChange, useSession } from '../session.js';
import { CloudflaredRollout } from './cloudflared-rollout.js';
import { EnrolForm } from './enrol-form.js';

type Action = 'approve' | 'revoke' | 'pause' | 'resume' | 'rotate-secret';

export function agentStatus(agent: AgentView) {
  if (agent.status === 'revoked') return <Badge tone="muted">revoked</Badge>;
  if (agent.status === 'pending') return <Badge tone="warn">waiting for approval</Badge>;
  return agent.online ? <Badge tone="ok">online</Badge> : <Badge tone="bad">offline</Badge>;
}

/** The actions an admin has on one agent, revocation behind a confirmation that says what follows. */
export function AgentActions({ agent, onDone }: { agent: AgentView; onDone: () => void }) {
  const session = useSession();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  if (!canChange(session) || agent.status === 'revoked') return null;
  const run = async (action: Action) => {
    setConfirming(false);
    try {
      await api.agentAction(agent.id, action);
      setError(undefined);
      onDone();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  return (
    <div className="row-actions">
      {agent.status === 'pending' ? (
        <button type="button" onClick={() => run('approve')} aria-label={`Approve ${agent.name}`}>
          Approve
        </button>
      ) : null}
      {agent.status === 'approved' && agent.tunnelStatus === 'running' ? (
        <button type="button" onClick={() => run('pause')} aria-label={`Pause ${agent.name}`}>
          Pause
        </button>
      ) : null}
      {agent.tunnelStatus === 'paused' ? (
        <button type="button" onClick={() => run('resume')} aria-label={`Resume ${agent.name}`}>
          Resume
        </button>
      ) : null}
      {agent.status === 'approved' ? (
        <button
          type="button"
          onClick={() => run('rotate-secret')}
          aria-label={`Rotate secret of ${agent.name}`}
        >
          Rotate secret
        </button>
      ) : null}
      <button
        type="button"
        className="danger"
        onClick={() => setConfirming(true)}
        aria-label={`Revoke ${agent.name}`}
      >
        Revoke
      </button>
      {confirming ? (
        <ConfirmDialog
          title={`Revoke ${agent.name}?`}
          confirmLabel="Revoke"
          onConfirm={() => run('revoke')}
          onCancel={() => setConfirming(false)}
        >
          <p>
            Its key stops working at once, <strong>{agent.routeCount}</strong>{' '}
            {agent.routeCount === 1 ? 'route is' : 'routes are'} withdrawn from Cloudflare (their DNS records,
            ingress rules and Access apps that Tunnelfleet owns), and its tunnel is deleted so the host loses
            the edge. This cannot be undone: the host needs a new key.
          </p>
        </ConfirmDialog>
      ) : null}
      <ErrorNote error={error} />
    </div>
  );
}

export function AgentsPage() {
  const session = useSession();
  const { data, error, reload } = useData(() => api.agents(), [], ['agents']);
  const [enrolling, setEnrolling] = useState(false);
  const agents = data?.agents ?? [];
  return (
    <section>
      <h1>Agents</h1>
      {canChange(session) ? (
        <button type="button" onClick={() => setEnrolling(!enrolling)} aria-expanded={enrolling}>
          {enrolling ? 'Close' : 'Enrol a host'}
        </button>
      ) : null}
      {enrolling ? <EnrolForm onCreated={() => void reload()} /> : null}
      {canChange(session) ? <CloudflaredRollout /> : null}
      <ErrorNote error={error} />
      {data && agents.length === 0 ? (
        <Empty>No agent yet. Enrol a host to create its key, then start the agent there.</Empty>
      ) : null}
      {agents.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Agents, updated live</caption>
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col">Last heartbeat</th>
                <th scope="col">cloudflared</th>
                <th scope="col">Routes</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {agents.map((agent) => (
                <tr key={agent.id} data-agent={agent.name}>
                  <th scope="row">
                    <Link href={`/agents/${encodeURIComponent(agent.id)}`}>{agent.name}</Link>
                    <div className="sub">{agent.hostname ?? agent.id}</div>
                  </th>
                  <td>
                    {agentStatus(agent)}
                    {agent.tunnelStatus === 'paused' ? <Badge tone="warn">paused</Badge> : null}
                  </td>
                  <td>
                    <Ago at={agent.lastSeenAt} />
                  </td>
                  <td>
                    {agent.cloudflared
                      ? `${agent.cloudflared.version ?? 'unknown version'}${agent.cloudflared.connectorId ? ', connected' : ', not connected'}`
                      : 'not reported'}
                  </td>
                  <td>{agent.routeCount}</td>
                  <td>
                    <AgentActions agent={agent} onDone={() => void reload()} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
