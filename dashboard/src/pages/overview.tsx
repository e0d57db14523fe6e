import { ROUTE_STATUSES } from '@tunnelfleet/common/admin-api';
import { useState } from 'react';
import { api } from '../api.js';
import { Link } from '../components/link.js';
import { Ago, Badge, Empty, ErrorNote, routeTone } from '../components/status.js';
import { useData } from '../components/use-data.js';
import { canChange, useSession } from '../session.js';

export function OverviewPage() {
  const session = useSession();
  const { data, error, reload } = useData(() => api.overview(), [], ['agents', 'routes', 'admin']);
  const [note, setNote] = useState<string | undefined>();
  const overview = data?.overview;
  const reconcile = async () => {
    await api.reconcile();
    setNote('A full reconcile was requested.');
    await reload();
  };
  return (
    <section>
      <h1>Overview</h1>
      <ErrorNote error={error} />
      {overview ? (
        <div className="cards">
          <article className="card" aria-labelledby="ov-agents">
            <h2 id="ov-agents">Agents</h2>
            <p>
              <strong data-testid="agents-online">{overview.agents.online}</strong> online ·{' '}
              <strong>{overview.agents.offline}</strong> offline
            </p>
            <p>
              {overview.agents.pending} waiting for approval · {overview.agents.revoked} revoked
            </p>
            <Link href="/agents">All agents</Link>
          </article>
          <article className="card" aria-labelledby="ov-routes">
            <h2 id="ov-routes">Routes</h2>
            <ul className="plain">
              {ROUTE_STATUSES.map((status) => (
                <li key={status}>
                  <Link href={`/routes?status=${status}`}>
                    <Badge tone={routeTone(status)}>{status.replace('_', ' ')}</Badge>
                  </Link>{' '}
                  {overview.routes[status] ?? 0}
                </li>
              ))}
              <li>retained {overview.retainedRoutes}</li>
            </ul>
          </article>
          <article className="card" aria-labelledby="ov-conflicts">
            <h2 id="ov-conflicts">Conflicts</h2>
            <p>
              <strong>{overview.openConflicts}</strong> open
            </p>
            <Link href="/conflicts">See conflicts</Link>
          </article>
          <article className="card" aria-labelledby="ov-cf">
            <h2 id="ov-cf">Cloudflare calls</h2>
            {overview.cloudflare.map((token) => (
              <div key={token.token}>
                <label htmlFor={`budget-${token.token}`}>
                  Token {token.token}: {token.inWindow} of {token.ceiling} in the last 5 min
                  {token.queued > 0 ? `, ${token.queued} waiting` : ''}
                </label>
                <meter
                  id={`budget-${token.token}`}
                  min={0}
                  max={token.ceiling}
                  high={token.ceiling * 0.8}
                  value={token.inWindow}
                />
              </div>
            ))}
          </article>
          <article className="card" aria-labelledby="ov-reconcile">
            <h2 id="ov-reconcile">Last reconcile</h2>
            {overview.lastReconcile ? (
              <p>
                <Ago at={overview.lastReconcile.at} />: {overview.lastReconcile.targets} targets in{' '}
                {overview.lastReconcile.seconds.toFixed(1)} s,{' '}
                {overview.lastReconcile.failed.length === 0 ? (
                  <Badge tone="ok">all synced</Badge>
                ) : (
                  <Badge tone="bad">{overview.lastReconcile.failed.length} failed</Badge>
                )}
              </p>
            ) : (
              <p>No full reconcile has finished yet.</p>
            )}
            {canChange(session) ? (
              <button type="button" onClick={reconcile}>
                Reconcile now
              </button>
            ) : null}
            {note ? <p role="status">{note}</p> : null}
          </article>
          <article className="card wide" aria-labelledby="ov-errors">
            <h2 id="ov-errors">Latest errors</h2>
            {overview.latestErrors.length === 0 && (overview.lastReconcile?.failed.length ?? 0) === 0 ? (
              <Empty>No route is in error.</Empty>
            ) : (
              <ul className="plain">
                {overview.lastReconcile?.failed.map((failure) => (
                  <li key={failure.target}>
                    {failure.target}: {failure.message}
                  </li>
                ))}
                {overview.latestErrors.map((entry) => (
                  <li key={entry.routeId}>
                    <Link href={`/routes/${entry.routeId}`}>
                      {entry.hostname ?? `route ${entry.routeId}`}
                    </Link>
                    : {entry.message} (<Ago at={entry.updatedAt} />)
                  </li>
                ))}
              </ul>
            )}
          </article>
        </div>
      ) : error ? null : (
        <p>Loading…</p>
      )}
    </section>
  );
}
