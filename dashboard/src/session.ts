import type { SessionView } from '@tunnelfleet/common/admin-api';
import { createContext, useContext } from 'react';

/** The signed-in session; pages read the role to hide what a viewer may not do. */
export const SessionContext = createContext<SessionView | undefined>(undefined);

export function useSession(): SessionView {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

export const canChange = (session: SessionView) => session.role === 'admin';
