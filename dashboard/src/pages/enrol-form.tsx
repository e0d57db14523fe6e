import type { CreateKeyResponse } from '@tunnelfleet/common/admin-api';
import { SERVICE_KINDS } from '@tunnelfleet/common/labels';
import { type FormEvent, useState } from 'react';
import composeFile from '../../../docker-compose.agent.yml?raw';
import { api } from '../api.js';
import { ErrorNote } from '../components/status.js';

/** The agent's `.env` for this master and key: the two settings an agent needs. */
function agentEnv(key: string): string {
  return `TUNNELFLEET_MASTER_URL=${location.origin}\nTUNNELFLEET_API_KEY=${key}\n`;
}

/**
 * Enrol a host: create a key with its hostname scope, service policy and approval mode. The key is
 * shown once, inside a ready `.env`, beside the project's `docker-compose.agent.yml`.
 */
export function EnrolForm({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [scope, setScope] = useState<'list' | 'any'>('list');
  const [allowlist, setAllowlist] = useState('');
  const [allowKinds, setAllowKinds] = useState<string[]>([]);
  const [containerOnly, setContainerOnly] = useState(false);
  const [autoApprove, setAutoApprove] = useState(true);
  const [error, setError] = useState<string | undefined>();
  const [created, setCreated] = useState<CreateKeyResponse | undefined>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const patterns = allowlist
        .split(/[\s,]+/)
        .map((p) => p.trim())
        .filter(Boolean);
      const answer = await api.createKey({
        name: name.trim(),
        ...(scope === 'any' ? { allowAnyHostname: true } : { hostnameAllowlist: patterns }),
        autoApprove,
        servicePolicy: { allow: allowKinds as (typeof SERVICE_KINDS)[number][], containerOnly },
      });
      setCreated(answer);
      setError(undefined);
      onCreated();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };

  if (created) {
    return (
      <section aria-labelledby="enrolled" className="panel">
        <h2 id="enrolled">Key for {created.record.name} created</h2>
        <p role="status">
          This key is shown <strong>once</strong>: only its hash is kept. Put this <code>.env</code> next to{' '}
          <code>docker-compose.agent.yml</code> on the host (mode 0600), then run{' '}
          <code>docker compose -f docker-compose.agent.yml up -d</code>.
        </p>
        <label htmlFor="enrol-env">.env</label>
        <textarea id="enrol-env" readOnly rows={3} value={agentEnv(created.key)} className="code" />
        <label htmlFor="enrol-compose">docker-compose.agent.yml</label>
        <textarea id="enrol-compose" readOnly rows={12} value={composeFile} className="code" />
        <button type="button" onClick={() => setCreated(undefined)}>
          Done
        </button>
      </section>
    );
  }
  return (
    <form onSubmit={submit} className="panel" aria-labelledby="enrol-title">
      <h2 id="enrol-title">Enrol a host</h2>
      <label htmlFor="enrol-name">Host name</label>
      <input id="enrol-name" required value={name} onChange={(e) => setName(e.target.value)} />
      <fieldset>
        <legend>Hostnames it may publish</legend>
        <label>
          <input type="radio" name="scope" checked={scope === 'list'} onChange={() => setScope('list')} />{' '}
          Only these patterns
        </label>
        <label>
          <input type="radio" name="scope" checked={scope === 'any'} onChange={() => setScope('any')} /> Any
          hostname of a managed zone (no wildcards)
        </label>
        {scope === 'list' ? (
          <>
            <label htmlFor="enrol-allowlist">Patterns (comma or space separated)</label>
            <input
              id="enrol-allowlist"
              placeholder="*.apps.example.com"
              value={allowlist}
              onChange={(e) => setAllowlist(e.target.value)}
            />
          </>
        ) : null}
      </fieldset>
      <fieldset>
        <legend>Services it may publish besides ordinary ones</legend>
        {SERVICE_KINDS.map((kind) => (
          <label key={kind}>
            <input
              type="checkbox"
              checked={allowKinds.includes(kind)}
              onChange={(e) =>
                setAllowKinds(e.target.checked ? [...allowKinds, kind] : allowKinds.filter((k) => k !== kind))
              }
            />{' '}
            {kind}
          </label>
        ))}
        <label>
          <input
            type="checkbox"
            checked={containerOnly}
            onChange={(e) => setContainerOnly(e.target.checked)}
          />{' '}
          Only each container's own services
        </label>
      </fieldset>
      <fieldset>
        <legend>Approval</legend>
        <label>
          <input type="radio" name="approval" checked={autoApprove} onChange={() => setAutoApprove(true)} />{' '}
          Approve at first registration
        </label>
        <label>
          <input type="radio" name="approval" checked={!autoApprove} onChange={() => setAutoApprove(false)} />{' '}
          An admin approves it here
        </label>
      </fieldset>
      <ErrorNote error={error} />
      <button type="submit">Create key</button>
    </form>
  );
}
