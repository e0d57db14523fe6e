import { randomBytes } from 'node:crypto';

/** A tunnel token as the live API issues it, plus "e" (EDGE-PROTOCOL.md) when an edge URL is set. */
export interface TunnelTokenPayload {
  a: string;
  t: string;
  s: string;
  e?: string;
}

export const newTunnelSecret = (): string => randomBytes(32).toString('base64');

export function encodeTunnelToken(payload: TunnelTokenPayload): string {
  return Buffer.from(JSON.stringify(payload)).toString('base64');
}

export function decodeTunnelToken(token: unknown): TunnelTokenPayload | null {
  if (typeof token !== 'string' || token === '') return null;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { a, t, s, e } = parsed as Record<string, unknown>;
    if (typeof a !== 'string' || typeof t !== 'string' || typeof s !== 'string') return null;
    return typeof e === 'string' ? { a, t, s, e } : { a, t, s };
  } catch {
    return null;
  }
}
