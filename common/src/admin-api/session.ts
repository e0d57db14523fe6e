import { z } from 'zod';
import { PROTOCOL_LIMITS } from '../protocol/limits.js';

/**
 * Dashboard sessions: `POST /api/v1/session` signs in with the admin token or a viewer token and
 * sets an httpOnly session cookie; `GET` says who is signed in and hands the CSRF token;
 * `DELETE` signs out. A request made with the cookie that changes anything must carry the CSRF
 * token in the `X-CSRF-Token` header; a viewer's session changes nothing (403).
 */
export const SESSION_PATH = '/api/v1/session';
export const SESSION_COOKIE = 'tunnelfleet_session';
export const CSRF_HEADER = 'x-csrf-token';

export const SESSION_ROLES = ['admin', 'viewer'] as const;
export type SessionRole = (typeof SESSION_ROLES)[number];

export const loginRequestSchema = z.strictObject({
  token: z.string().min(1).max(512),
});
export type LoginRequest = z.infer<typeof loginRequestSchema>;

export const sessionViewSchema = z.object({
  role: z.enum(SESSION_ROLES),
  /** Who the audit log names for this session's changes. */
  actor: z.string(),
  /** `admin`, or the viewer token's name. */
  name: z.string(),
  csrfToken: z.string(),
  expiresAt: z.string(),
});
export type SessionView = z.infer<typeof sessionViewSchema>;

export const sessionResponseSchema = z.object({ session: sessionViewSchema });
export type SessionResponse = z.infer<typeof sessionResponseSchema>;

/** Viewer tokens: `/viewer-tokens`, `/viewer-tokens/:id/revoke` (admin only). */
export const viewerTokenIdSchema = z.string().regex(/^[0-9a-f]{16}$/, '16 lower-case hex characters');
export const viewerTokenParamsSchema = z.strictObject({ id: viewerTokenIdSchema });

export const createViewerTokenRequestSchema = z.strictObject({
  name: z.string().trim().min(1).max(PROTOCOL_LIMITS.nameLength),
});
export type CreateViewerTokenRequest = z.infer<typeof createViewerTokenRequestSchema>;

export const viewerTokenViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
});
export type ViewerTokenView = z.infer<typeof viewerTokenViewSchema>;

export const createViewerTokenResponseSchema = z.object({
  /** `tfv_<id>_<secret>`: shown once, stored as a hash only. */
  token: z.string(),
  record: viewerTokenViewSchema,
});
export type CreateViewerTokenResponse = z.infer<typeof createViewerTokenResponseSchema>;

export const listViewerTokensResponseSchema = z.object({ tokens: z.array(viewerTokenViewSchema) });
export type ListViewerTokensResponse = z.infer<typeof listViewerTokensResponseSchema>;

export const viewerTokenResponseSchema = z.object({ token: viewerTokenViewSchema });
export type ViewerTokenResponse = z.infer<typeof viewerTokenResponseSchema>;
