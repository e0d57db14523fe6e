import type { AuditPage as AuditPageData } from '@tunnelfleet/common/admin-api';
import { type FormEvent, useEffect, useState } from 'react';
import { api } from '../api.js';
import { Empty, ErrorNote } from '../components/status.js';

const PAGE = 50;

/** The audit log, newest first, filtered by action and target, paged by the server (keyset). */
export function AuditPage() {
  const [action, setAction] = useState('');
  const [target, setTarget] = useState('');
  const [applied, setApplied] = useState({ action: '', target: '' });
  const [entries, setEntries] = useState<AuditPageData['entries']>([]);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [error, setError] = useState<string | undefined>();
  const [loaded, setLoaded] = useState(false);

  const load = async (before: number | undefined) => {
    try {
      const page = await api.audit({
        limit: PAGE,
        ...(before ? { before } : {}),
        ...(applied.action ? { action: applied.action } : {}),
        ...(applied.target ? { target: applied.target } : {}),
      });
      setEntries((previous) => (before ? [...previous, ...page.entries] : page.entries));
      setNextBefore(page.nextBefore);
      setError(undefined);
      setLoaded(true);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };
  // biome-ignore lint/correctness/useExhaustiveDependencies: reload when the applied filter changes
  useEffect(() => {
    void load(undefined);
  }, [applied]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setApplied({ action: action.trim(), target: target.trim() });
  };
  return (
    <section>
      <h1>Audit log</h1>
      <form className="filters" aria-label="Filter the audit log" onSubmit={submit}>
        <label>
          Action
          <input value={action} onChange={(e) => setAction(e.target.value)} placeholder="agent.revoke" />
        </label>
        <label>
          Target
          <input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="ag_…" />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={error} />
      {loaded && entries.length === 0 ? <Empty>No entry matches.</Empty> : null}
      {entries.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="sr-only">Audit entries, newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id}>
                  <td>
                    <time dateTime={entry.at}>{entry.at.replace('T', ' ').slice(0, 19)}</time>
                  </td>
                  <td>{entry.actor}</td>
                  <td>{entry.action}</td>
                  <td>{entry.target}</td>
                  <td className="mono details">{JSON.stringify(entry.details)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {nextBefore !== null ? (
        <button type="button" onClick={() => void load(nextBefore)}>
          Older entries
        </button>
      ) : null}
    </section>
  );
}
