import { api } from '../api.js';
import { Link } from '../components/link.js';
import { Badge, Empty, ErrorNote, routeTone } from '../components/status.js';
import { useData } from '../components/use-data.js';

const LANGUAGES = {
  tunnelfleet: 'Tunnelfleet',
  dockflare: 'DockFlare',
  labelgate: 'Labelgate',
  dag: 'The Awakening Gateway (dag.*)',
} as const;

export function RouteDetailPage({ id }: { id: number }) {
  const { data, error } = useData(() => api.route(id), [id], ['routes']);
  const detail = data?.detail;
  return (
    <section>
      <p>
        <Link href="/routes">← Routes</Link>
      </p>
      <ErrorNote error={error} />
      {detail ? (
        <>
          <h1>
            {detail.route.hostname ?? '(no hostname)'}
            {detail.route.path}
          </h1>
          <p>
            <Badge tone={routeTone(detail.route.status)}>{detail.route.status}</Badge>{' '}
            {detail.route.statusMessage}
          </p>
          <dl className="facts">
            <dt>Service</dt>
            <dd className="mono">{detail.route.service}</dd>
            <dt>Agent</dt>
            <dd>
              <Link href={`/agents/${encodeURIComponent(detail.route.agentId)}`}>{detail.route.agentId}</Link>
            </dd>
            <dt>Container</dt>
            <dd>
              {detail.route.containerName} ({detail.route.identity}, {detail.route.replicas} running)
            </dd>
            {detail.route.wakeState ? (
              <>
                <dt>Wake on request</dt>
                <dd>{detail.route.wakeState}</dd>
              </>
            ) : null}
            <dt>Label language</dt>
            <dd>{detail.language ? LANGUAGES[detail.language] : 'no longer in the labels'}</dd>
          </dl>
          <h2>Problems</h2>
          {detail.route.problems.length === 0 ? (
            <Empty>No problem with its labels.</Empty>
          ) : (
            <ul className="plain">
              {detail.route.problems.map((problem, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: problems have no id and never reorder
                <li key={i}>{(problem as { message?: string }).message ?? JSON.stringify(problem)}</li>
              ))}
            </ul>
          )}
          <h2>Labels</h2>
          <pre className="code">
            {Object.entries(detail.labels)
              .filter(([key]) => !key.startsWith('com.docker.'))
              .map(([key, value]) => `${key}=${value}`)
              .join('\n')}
          </pre>
          <h2>Cloudflare objects</h2>
          <ul className="plain">
            <li>
              DNS record:{' '}
              {detail.cloudflare.dnsRecords.length === 0
                ? 'none owned'
                : detail.cloudflare.dnsRecords.map((r) => `${r.id} (zone ${r.zoneId})`).join(', ')}
            </li>
            <li>
              Ingress rule:{' '}
              {detail.cloudflare.ingressRules.length === 0
                ? 'none'
                : detail.cloudflare.ingressRules.map((r) => `on tunnel ${r.tunnelId}`).join(', ')}
            </li>
            <li>
              Access app:{' '}
              {detail.cloudflare.accessApps.length === 0
                ? 'none'
                : detail.cloudflare.accessApps.map((a) => a.id).join(', ')}
            </li>
          </ul>
          <h2>History</h2>
          {detail.history.length === 0 ? (
            <Empty>Nothing in the audit log names this hostname yet.</Empty>
          ) : (
            <ol className="plain">
              {detail.history.map((entry) => (
                <li key={entry.id}>
                  <time dateTime={entry.at}>{entry.at}</time> {entry.actor} {entry.action}
                </li>
              ))}
            </ol>
          )}
        </>
      ) : null}
    </section>
  );
}
