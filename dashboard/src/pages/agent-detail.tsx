import { api } from '../api.js';
import { Link } from '../components/link.js';
import { Ago, Badge, Empty, ErrorNote, routeTone } from '../components/status.js';
import { useData } from '../components/use-data.js';
import { AgentActions, agentStatus } from './agents.js';

export function AgentDetailPage({ id }: { id: string }) {
  const agent = useData(() => api.agent(id), [id], ['agents', 'routes']);
  const routes = useData(() => api.routes({ agentId: id, limit: 500 }), [id], ['routes']);
  const detail = agent.data?.agent;
  return (
    <section>
      <p>
        <Link href="/agents">← Agents</Link>
      </p>
      <ErrorNote error={agent.error} />
      {detail ? (
        <>
          <h1>{detail.name}</h1>
          <dl className="facts">
            <dt>Status</dt>
            <dd>{agentStatus(detail)}</dd>
            <dt>Last heartbeat</dt>
            <dd>
              <Ago at={detail.lastSeenAt} />
            </dd>
            <dt>Host</dt>
            <dd>{detail.hostname ?? 'unknown'}</dd>
            <dt>Agent version</dt>
            <dd>{detail.agentVersion ?? 'unknown'}</dd>
            <dt>Tunnel</dt>
            <dd>{detail.tunnel ? `${detail.tunnel.name} (${detail.tunnel.id})` : 'none yet'}</dd>
            <dt>cloudflared</dt>
            <dd>
              {detail.cloudflared?.version ?? 'not reported'} · image {detail.cloudflaredConfig.image}
              {detail.cloudflared?.connectorId ? ` · connector ${detail.cloudflared.connectorId}` : ''}
            </dd>
          </dl>
          <AgentActions agent={detail} onDone={() => void agent.reload()} />
          <h2>Containers</h2>
          {detail.containers.length === 0 ? (
            <Empty>The agent reported no labelled container.</Empty>
          ) : (
            <ul className="plain">
              {detail.containers.map((c) => (
                <li key={c.containerId}>
                  {c.name} <Badge tone={c.state === 'running' ? 'ok' : 'muted'}>{c.state}</Badge>
                </li>
              ))}
            </ul>
          )}
          <h2>Routes</h2>
          {routes.data && routes.data.routes.length === 0 ? <Empty>No route.</Empty> : null}
          <ul className="plain">
            {routes.data?.routes.map((route) => (
              <li key={route.id}>
                <Link href={`/routes/${route.id}`}>
                  {route.hostname ?? '(no hostname)'}
                  {route.path}
                </Link>{' '}
                <Badge tone={routeTone(route.status)}>{route.status}</Badge>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
