import type { Request } from 'express';
import { sessionStoreUnavailable } from '../../http/errors.js';
import type { SignedIn } from './service.js';

/** New session id at every sign-in (no fixation), then the identity is stored and saved. */
export async function startSession(req: Request, who: SignedIn): Promise<void> {
  await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(sessionStoreUnavailable()) : resolve())));
  req.session.userId = who.userId;
  req.session.clinicId = who.clinicId;
  req.session.startedAt = Date.now();
  await saveSession(req);
}

// Store errors (Redis down) become a 503 the client may retry.
export const saveSession = (req: Request) => new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(sessionStoreUnavailable()) : resolve())));

export const destroySession = (req: Request) =>
  new Promise<void>((resolve, reject) => (req.session ? req.session.destroy((err) => (err ? reject(sessionStoreUnavailable()) : resolve())) : resolve()));
