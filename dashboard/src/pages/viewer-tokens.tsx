import { type FormEvent, useState } from 'react';
import { api } from '../api.js';
import { Ago, Badge, Empty, ErrorNote } from '../components/status.js';
import { useData } from '../components/use-data.js';

/** Read-only tokens for the dashboard, created and revoked by an admin; a token is shown once. */
export function ViewerTokensPage() {
  const { data, error, reload } = useData(() => api.viewerTokens(), []);
  const [name, setName] = useState('');
  const [shown, setShown] = useState<string | undefined>();
  const [failure, setFailure] = useState<string | undefined>();
  const create = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const answer = await api.createViewerToken(name.trim());
      setShown(answer.token);
      setName('');
      setFailure(undefined);
      await reload();
    } catch (e) {
      setFailure(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <section>
      <h1>Viewer tokens</h1>
      <p>A viewer token signs in to this dashboard read-only: it sees everything and changes nothing.</p>
      <form onSubmit={create} className="filters">
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} placeholder="on-call" />
        </label>
        <button type="submit">Create viewer token</button>
      </form>
      <ErrorNote error={failure ?? error} />
      {shown ? (
        <div role="status" className="panel">
          <label htmlFor="viewer-token">New viewer token (shown once: only its hash is kept)</label>
          <input id="viewer-token" readOnly value={shown} className="mono" />
        </div>
      ) : null}
      {data?.tokens.length === 0 ? <Empty>No viewer token yet.</Empty> : null}
      <ul className="plain">
        {data?.tokens.map((token) => (
          <li key={token.id}>
            {token.name} ({token.id}) · last used <Ago at={token.lastUsedAt} />{' '}
            {token.revokedAt ? (
              <Badge tone="muted">revoked</Badge>
            ) : (
              <button
                type="button"
                className="danger"
                onClick={() => api.revokeViewerToken(token.id).then(reload)}
              >
                Revoke {token.name}
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
