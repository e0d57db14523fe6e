import type { GatewayRoute } from '@tunnelfleet/common';

/** Paths the gateway answers itself on every host it routes; no backend ever sees them. */
export const WAKE_PREFIX = '/_tunnelfleet/';

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** No inline script anywhere: the page's behaviour is the static script below, allowed by CSP. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'",
  'x-content-type-options': 'nosniff',
};

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="${WAKE_PREFIX}wake.css"></head>
<body>${body}</body>
</html>
`;
}

/** Answered at once to a browser while the container starts; `wake.js` polls and redirects. */
export function loadingPage(route: GatewayRoute): string {
  const wake = route.wake!;
  return page(
    `Starting ${route.hostname}`,
    `<main id="wake" data-route="${escapeHtml(route.id)}" data-redirect="${escapeHtml(wake.redirectPath)}">
<h1>Starting ${escapeHtml(route.hostname)}…</h1>
<p id="state">starting</p>
<pre id="logs"></pre>
</main>
<script src="${WAKE_PREFIX}wake.js" defer></script>`,
  );
}

/**
 * A later request after the wake failed: what happened (the agent's `failure`, else the start
 * timeout), with the container's last lines.
 */
export function failedPage(route: GatewayRoute, logs: readonly string[], failure?: string): string {
  const why = failure
    ? `The container could not be started: ${escapeHtml(failure)}.`
    : `The container was started but did not become ready within ${Math.round(route.wake!.startTimeoutMs / 1000)} s.`;
  return page(
    `${route.hostname} did not start`,
    `<main><h1>${escapeHtml(route.hostname)} did not start${failure ? '' : ' in time'}</h1>
<p id="failure">${why}</p>
<pre>${escapeHtml(logs.join('\n'))}</pre></main>`,
  );
}

export const WAKE_CSS =
  'body{font-family:sans-serif;margin:3em}pre{background:#111;color:#ddd;padding:1em;max-height:60vh;overflow:auto}';

/** Polls the state every 2 s and the logs every 3 s; redirects once running. */
export const WAKE_SCRIPT = `(() => {
  const main = document.getElementById('wake');
  if (!main) return;
  const route = encodeURIComponent(main.dataset.route);
  const redirect = main.dataset.redirect || '/';
  const stateEl = document.getElementById('state');
  const logsEl = document.getElementById('logs');
  const pollState = async () => {
    try {
      const answer = await fetch('${WAKE_PREFIX}state?route=' + route, { cache: 'no-store' });
      if (answer.ok) {
        const { state, message } = await answer.json();
        stateEl.textContent = state;
        if (state === 'running') { window.location.replace(redirect); return; }
        if (state === 'failed') {
          stateEl.textContent = message ? 'The container could not be started: ' + message : 'The container did not start in time.';
          return;
        }
      }
    } catch {}
    setTimeout(pollState, 2000);
  };
  const pollLogs = async () => {
    try {
      const answer = await fetch('${WAKE_PREFIX}logs?route=' + route, { cache: 'no-store' });
      if (answer.ok) logsEl.textContent = (await answer.json()).lines.join('\\n');
    } catch {}
    if (stateEl.textContent !== 'running') setTimeout(pollLogs, 3000);
  };
  setTimeout(pollState, 2000);
  setTimeout(pollLogs, 3000);
})();
`;
