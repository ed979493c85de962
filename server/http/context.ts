import type { Request } from 'express';
import type { Logger } from '../infra/logger.js';
import type { Actor } from './permissions.js';

/** Built once per request; services receive it instead of req. */
export interface BaseContext {
  requestId: string;
  ip: string | undefined;
  userAgent: string | undefined;
}

export interface TenantContext extends BaseContext {
  /** The clinic of the session or API key; the only clinic a request can touch. */
  clinicId: string;
  actor: Actor;
}

/** The user id behind the request, or null for an API key. */
export const actorUserId = (ctx: TenantContext): string | null => (ctx.actor.type === 'user' ? ctx.actor.userId : null);

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    tenant?: TenantContext;
  }
}

export function baseContext(req: Request): BaseContext {
  return { requestId: req.id, ip: req.ip, userAgent: req.get('user-agent') };
}
