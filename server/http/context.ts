import type { Request } from 'express';
import type { Logger } from '../infra/logger.js';
import type { Actor, Role, SystemService } from '../lib/permissions.js';

/**
 * Built once per request; services receive it instead of req. ip and userAgent are getters (read
 * on demand): pass them on by name, never by spreading the context.
 */
export interface BaseContext {
  requestId: string;
  ip: string | undefined;
  userAgent: string | undefined;
}

/** A signed-in user and their active memberships, as cached (see loadAccount). */
export interface Account {
  user: { id: string; name: string; email: string };
  /** Epoch ms of the last password change; sessions started before it are refused. */
  sessionsValidAfter: number | null;
  memberships: { clinicId: string; clinicName: string; clinicTimezone: string; role: Role; isProfessional: boolean }[];
}

/** Who a request or socket is: what a session or API key proves. */
export interface Identity {
  /** The clinic of the session or API key; the only clinic a request can touch. */
  clinicId: string;
  actor: Actor;
  /** Set for a signed-in user (not for an API key). */
  account?: Account;
}

export interface TenantContext extends BaseContext, Identity {}

/** The user id behind the request, or null for an API key. */
export const actorUserId = (ctx: TenantContext): string | null => (ctx.actor.type === 'user' ? ctx.actor.userId : null);

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
  }
}

/** ip and userAgent are read when a service asks (audit): resolving the proxy chain on every request costs. */
class RequestContext implements BaseContext {
  readonly requestId: string;
  readonly #req: Request;

  constructor(req: Request) {
    this.#req = req;
    this.requestId = req.id;
  }

  get ip() {
    return this.#req.ip;
  }

  get userAgent() {
    return this.#req.get('user-agent');
  }
}

class TenantRequestContext extends RequestContext implements TenantContext {
  readonly clinicId: string;
  readonly actor: Actor;
  readonly account: Account | undefined;

  constructor(req: Request, identity: Identity) {
    super(req);
    this.clinicId = identity.clinicId;
    this.actor = identity.actor;
    this.account = identity.account;
  }
}

export const baseContext = (req: Request): BaseContext => new RequestContext(req);
export const tenantContext = (req: Request, identity: Identity): TenantContext => new TenantRequestContext(req, identity);

/**
 * A feature acting on its own in a job or subscriber (the assistant booking, a reminder confirming):
 * the services, audit and events see it as the actor `system:<service>`.
 */
export const systemContext = (clinicId: string, service: SystemService, requestId: string | null): TenantContext => ({
  clinicId,
  actor: { type: 'system', service },
  requestId: requestId ?? `${service}:${clinicId}`,
  ip: undefined,
  userAgent: undefined,
});
