import { type FormEvent, useState } from 'react';
import { api } from '../api.js';
import { ErrorNote } from '../components/status.js';
import { useData } from '../components/use-data.js';

/**
 * The fleet's cloudflared image: every approved, running agent is sent the new one (each
 * recreates its cloudflared only if the image or command line changed). The agents table shows
 * each host's running version as its heartbeats report it, so the rollout can be watched there.
 */
export function CloudflaredRollout() {
  const { data, error, reload } = useData(() => api.fleetCloudflared(), []);
  const [image, setImage] = useState('');
  const [outcome, setOutcome] = useState<string | undefined>();
  const [failure, setFailure] = useState<string | undefined>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!data) return;
    try {
      const answer = await api.putFleetCloudflared({ image: image.trim(), settings: data.config.settings });
      const sent = answer.updatedAgents.length;
      setOutcome(
        `Image ${answer.config.image} sent to ${sent} ${sent === 1 ? 'agent' : 'agents'}` +
          (answer.failedAgents.length > 0
            ? `; not sent to ${answer.failedAgents.map((a) => a.agentId).join(', ')} (try again)`
            : '.'),
      );
      setFailure(undefined);
      setImage('');
      await reload();
    } catch (e) {
      setFailure(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <form onSubmit={submit} className="panel" aria-labelledby="rollout-title">
      <h2 id="rollout-title">cloudflared for the fleet</h2>
      <p>
        Now:{' '}
        <span className="mono">{data ? (data.config.image ?? `${data.defaultImage} (default)`) : '…'}</span>
      </p>
      <label htmlFor="rollout-image">New image</label>
      <input
        id="rollout-image"
        required
        placeholder="cloudflare/cloudflared:2026.11.0"
        value={image}
        onChange={(e) => setImage(e.target.value)}
      />
      <button type="submit">Roll out</button>
      {outcome ? <p role="status">{outcome}</p> : null}
      <ErrorNote error={failure ?? error} />
    </form>
  );
}
