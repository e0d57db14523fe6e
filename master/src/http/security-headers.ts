import type { RequestHandler } from 'express';

/**
 * The dashboard's Content-Security-Policy: scripts, styles and connections from this origin only
 * — no inline script or style, no eval, no framing, no plugin, no other origin. The Vite build
 * emits only external module scripts and stylesheets, so the app needs nothing looser.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** On every answer, API or page: the browser never sniffs types, frames us, or leaks URLs. */
export function securityHeaders(): RequestHandler {
  return (_req, res, next) => {
    res.set({
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });
    next();
  };
}
