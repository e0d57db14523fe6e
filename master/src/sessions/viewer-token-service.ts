import { generateViewerToken, NotFoundError } from '@tunnelfleet/common';
import { hashSecret } from '../keys/secret-hash.js';
import { type AuditActor, recordAudit } from '../store/audit-log.js';
import { deleteViewerSessions } from '../store/dashboard-sessions.js';
import type { SqliteDatabase } from '../store/database.js';
import {
  findViewerToken,
  insertViewerToken,
  listViewerTokens,
  revokeViewerToken,
  type ViewerTokenRecord,
} from '../store/viewer-tokens.js';

export type ViewerTokenView = Omit<ViewerTokenRecord, 'secretHash'>;

function toView({ secretHash: _hash, ...view }: ViewerTokenRecord): ViewerTokenView {
  return view;
}

/**
 * Read-only dashboard tokens an admin hands out. The token is returned once, at creation; only the
 * hash of its secret is stored. Revoking one ends every session it opened at once.
 */
export function createViewerTokenService(deps: { db: SqliteDatabase }) {
  const { db } = deps;
  return {
    create(name: string, actor: AuditActor): { token: string; record: ViewerTokenView } {
      return db.transaction(() => {
        const { key, keyId, secret } = generateViewerToken();
        const record = insertViewerToken(db, { id: keyId, name, secretHash: hashSecret(secret) });
        recordAudit(db, { actor, action: 'viewer_token.create', target: keyId, details: { name } });
        return { token: key, record: toView(record) };
      })();
    },

    list(): ViewerTokenView[] {
      return listViewerTokens(db).map(toView);
    },

    revoke(id: string, actor: AuditActor): ViewerTokenView {
      return db.transaction(() => {
        const existing = findViewerToken(db, id);
        if (!existing) throw new NotFoundError(`no viewer token ${id}`);
        revokeViewerToken(db, id);
        deleteViewerSessions(db, id);
        recordAudit(db, {
          actor,
          action: 'viewer_token.revoke',
          target: id,
          details: { name: existing.name },
        });
        return toView(findViewerToken(db, id)!);
      })();
    },
  };
}

export type ViewerTokenService = ReturnType<typeof createViewerTokenService>;
