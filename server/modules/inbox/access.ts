import { eq, isNull, or, type SQL } from 'drizzle-orm';
import { whatsappNumbers } from '../../../shared/schema/index.js';
import type { TenantContext } from '../../http/context.js';
import { placeholder } from '../../infra/clinic-data.js';
import type { SocketIdentity } from '../../infra/realtime.js';

/**
 * Who is looking at the inbox. A private number (`professional_id` set) shows its conversations to
 * that professional and to the clinic's admins only; API keys and other members get 404, on every
 * route, socket event and room.
 */
export interface Viewer {
  clinicId: string;
  /** Null for an API key. */
  userId: string | null;
  admin: boolean;
}

export const viewerOf = (ctx: TenantContext): Viewer => ({
  clinicId: ctx.clinicId,
  userId: ctx.actor.type === 'user' ? ctx.actor.userId : null,
  admin: ctx.actor.type === 'user' && ctx.actor.role === 'admin',
});

export const viewerOfSocket = (identity: SocketIdentity): Viewer => ({ clinicId: identity.clinicId, userId: identity.userId, admin: identity.admin });

/** What a viewer may see, as a prepared query's shape: every number, the shared ones and their own, or the shared ones. */
export type ViewerKind = 'admin' | 'member' | 'api_key';
export const viewerKind = (viewer: Viewer): ViewerKind => (viewer.admin ? 'admin' : viewer.userId ? 'member' : 'api_key');

/**
 * The condition on the (joined) number that lets the viewer see its conversations; undefined: all.
 * A member's own numbers are the placeholder `viewerId` (the viewer's userId).
 */
export function visibleNumbers(kind: ViewerKind): SQL | undefined {
  if (kind === 'admin') return undefined;
  const shared = isNull(whatsappNumbers.professionalId);
  return kind === 'member' ? or(shared, eq(whatsappNumbers.professionalId, placeholder('viewerId', whatsappNumbers.professionalId))) : shared;
}
