import { SESSION_COOKIE } from '@tunnelfleet/common';
import type { Request, Response } from 'express';

/** The session cookie's value as the browser sent it, if any. */
export function readSessionCookie(req: Request): string | undefined {
  const header = req.get('cookie');
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === SESSION_COOKIE) {
      const value = part.slice(at + 1).trim();
      return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/**
 * httpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Path=/ and
 * Secure whenever the request came over TLS: directly, or through a proxy that `TRUST_PROXY` trusts
 * and that says `X-Forwarded-Proto: https` (express's `req.secure`).
 */
export function setSessionCookie(req: Request, res: Response, value: string, expiresAt: string): void {
  res.cookie(SESSION_COOKIE, value, {
    httpOnly: true,
    sameSite: 'strict',
    secure: req.secure,
    path: '/',
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(req: Request, res: Response): void {
  res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: req.secure, path: '/' });
}
