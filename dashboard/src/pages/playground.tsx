import { readLabelInput } from '@tunnelfleet/common/label-input';
import { parseContainerLabels } from '@tunnelfleet/common/labels';
import { useMemo, useState } from 'react';
import { Badge, Empty } from '../components/status.js';

const EXAMPLE = `tunnelfleet.enable=true
tunnelfleet.hostname=app.example.com
tunnelfleet.service=http://app:8080
tunnelfleet.access.emails=ops@example.com`;

/**
 * Paste labels (key=value lines, a compose `labels:` list, or `docker inspect` JSON) and see at
 * once the routes and problems the master would see: the very parser of @tunnelfleet/common, run
 * in the browser, nothing sent to the master.
 */
export function PlaygroundPage() {
  const [text, setText] = useState(EXAMPLE);
  const result = useMemo(() => {
    const input = readLabelInput(text, 'pasted');
    if (!input.ok) return { error: input.error } as const;
    return {
      containers: input.containers.map((container) => ({
        name: container.name,
        parsed: parseContainerLabels(container.labels, {
          containerName: container.name,
          ...(container.exposedPorts ? { exposedPorts: container.exposedPorts } : {}),
        }),
      })),
    } as const;
  }, [text]);
  return (
    <section>
      <h1>Labels playground</h1>
      <label htmlFor="labels-input">
        Labels (key=value lines, a compose labels list, or docker inspect JSON)
      </label>
      <textarea
        id="labels-input"
        className="code"
        rows={10}
        value={text}
        onChange={(event) => setText(event.target.value)}
        spellCheck={false}
      />
      <div aria-live="polite" data-testid="playground-result">
        {'error' in result ? (
          <p role="alert" className="error">
            {result.error}
          </p>
        ) : (
          result.containers.map(({ name, parsed }) => (
            <div key={name}>
              {!parsed.enabled ? (
                <Empty>Not enabled: no label language switched this container on.</Empty>
              ) : null}
              {parsed.routes.length > 0 ? (
                <>
                  <h2>Routes</h2>
                  <ul className="plain">
                    {parsed.routes.map((route) => (
                      <li key={route.key}>
                        <Badge tone="ok">publishes</Badge> <strong>{route.hostname}</strong>
                        {route.path ?? ''} → <span className="mono">{route.service}</span> ({route.source}
                        {route.access ? ', behind Access' : ''})
                      </li>
                    ))}
                  </ul>
                </>
              ) : null}
              {parsed.problems.length > 0 ? (
                <>
                  <h2>Problems</h2>
                  <ul className="plain">
                    {parsed.problems.map((problem) => (
                      <li key={`${problem.label}:${problem.message}`}>
                        <Badge tone={problem.severity === 'error' ? 'bad' : 'warn'}>{problem.severity}</Badge>{' '}
                        {problem.message}
                      </li>
                    ))}
                  </ul>
                </>
              ) : parsed.enabled ? (
                <p>No problem.</p>
              ) : null}
            </div>
          ))
        )}
      </div>
    </section>
  );
}
