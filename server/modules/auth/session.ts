import type { Request } from 'express';
import type { SignedIn } from './service.js';

/** New session id at every sign-in (no fixation), then the identity is stored and saved. */
export async function startSession(req: Request, who: SignedIn): Promise<void> {
  await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
  req.session.userId = who.userId;
  req.session.clinicId = who.clinicId;
  await saveSession(req);
}

export const saveSession = (req: Request) => new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));

export const destroySession = (req: Request) =>
  new Promise<void>((resolve, reject) => (req.session ? req.session.destroy((err) => (err ? reject(err) : resolve())) : resolve()));
