import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { parse as parseCookie } from 'cookie';
import { unsign } from 'cookie-signature';
import type { Request, RequestHandler, Response } from 'express';
import session, { type Store } from 'express-session';
import RedisStore from 'connect-redis';
import createMemoryStore from 'memorystore';
import { sessionStoreUnavailable } from '../lib/errors.js';
import type { Redis } from './redis.js';

export const SESSION_COOKIE = 'opb.sid';
export const SESSION_TTL_SECONDS = 12 * 3600;
const SESSION_TTL_MS = SESSION_TTL_SECONDS * 1000;

declare module 'express-session' {
  /** What a signed-in session holds: identity only, never health data. */
  interface SessionData {
    userId: string;
    clinicId: string;
    /** Epoch ms of sign-in: the session ends 12 h later, and is refused once the password changed after it. */
    startedAt: number;
  }
}

/** A signed-in session as authentication sees it. */
export interface ActiveSession {
  id: string;
  userId: string;
  clinicId: string;
  startedAt: number;
}

/** What the session middleware leaves on a request or a socket handshake. */
type WithSession = IncomingMessage & { session?: session.Session & Partial<session.SessionData>; sessionID?: string };

/** Milliseconds a session has left: its life counts from sign-in, never from the last request. */
const msLeft = (sess: Partial<session.SessionData> | undefined) =>
  typeof sess?.startedAt === 'number' ? sess.startedAt + SESSION_TTL_MS - Date.now() : SESSION_TTL_MS;

const MemoryStore = createMemoryStore(session);

/** memorystore, without the per-request touch (a write that would also make the expiry rolling). */
class ExpiringMemoryStore extends MemoryStore {
  constructor() {
    // lru-cache reads a max age of 0 as "never": an ended session gets 1 ms.
    super({ checkPeriod: 10 * 60_000, ttl: (_options: unknown, sess: Partial<session.SessionData>) => Math.max(1, msLeft(sess)) });
  }

  override touch(_sid: string, _sess: session.SessionData, callback?: () => void) {
    callback?.();
  }

  close() {
    this.stopInterval();
  }
}

/**
 * connect-redis in production (7.x: 9+ speaks only node-redis), memorystore in embedded mode.
 * Both expire an entry at sign-in + 12 h, and neither writes on a plain request (`disableTouch`).
 */
export function createSessionStore(opts: { redis?: Redis; prefix: string }): Store {
  if (!opts.redis) return new ExpiringMemoryStore();
  return new RedisStore({
    client: opts.redis,
    prefix: `${opts.prefix}sess:`,
    disableTouch: true,
    ttl: (sess) => Math.ceil(msLeft(sess) / 1000),
  });
}

/** Whom a session is being issued to, while `regenerate` asks for its id. */
const signingIn = new WeakMap<IncomingMessage, string>();
const USER_PREFIX = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./;

/**
 * A session id is `<userId>.<256 random bits>` once signed in: the signed cookie then tells whose
 * session it names before the store answers, so the user's account is read meanwhile.
 */
const newSessionId = (req: IncomingMessage) => {
  const random = randomBytes(32).toString('base64url');
  const userId = signingIn.get(req);
  return userId ? `${userId}.${random}` : random;
};

/** The session id from the request's cookie when one of the secrets signed it, as express-session reads it (same libraries). */
function signedSessionId(header: string | undefined, secrets: readonly string[]): string | undefined {
  const raw = header ? parseCookie(header)[SESSION_COOKIE] : undefined;
  if (!raw?.startsWith('s:')) return undefined;
  for (const secret of secrets) {
    const id = unsign(raw.slice(2), secret);
    if (id !== false) return id;
  }
  return undefined;
}

/** A signed-in session from what the store holds, or null: nobody signed in, or its 12 h are over. */
function active(id: string, sess: Partial<session.SessionData> | null | undefined): ActiveSession | null {
  if (!sess) return null;
  const { userId, clinicId, startedAt } = sess;
  if (!userId || !clinicId || typeof startedAt !== 'number' || msLeft(sess) <= 0) return null;
  return { id, userId, clinicId, startedAt };
}

/** The store did not answer (Redis down): a retryable 503, never a 500. */
const storeCall = (call: (done: (err?: unknown) => void) => void): Promise<void> =>
  new Promise((resolve, reject) => call((err) => (err ? reject(sessionStoreUnavailable()) : resolve())));

/**
 * express-session with our rules: cookie `opb.sid`, 12 h from sign-in whatever the activity
 * (no rolling, no touch), nothing saved until someone signs in, a new id at every sign-in,
 * `SESSION_SECRET` signing and `SESSION_SECRET_PREVIOUS` still accepted while a rotation settles.
 * Routes load it only where a session is needed (tenant and sign-in routes, socket handshakes).
 */
export class Sessions {
  readonly middleware: RequestHandler;
  private readonly cookie: { httpOnly: true; secure: boolean; sameSite: 'none' | 'lax'; path: '/' };

  constructor(
    readonly store: Store,
    private readonly opts: { secrets: string[]; production: boolean },
  ) {
    // The web app lives on another site (Vercel): production cookies must be cross-site, hence Secure.
    this.cookie = { httpOnly: true, secure: opts.production, sameSite: opts.production ? 'none' : 'lax', path: '/' };
    this.middleware = session({
      name: SESSION_COOKIE,
      secret: opts.secrets,
      store,
      resave: false,
      saveUninitialized: false,
      rolling: false,
      genid: newSessionId,
      cookie: { ...this.cookie, maxAge: SESSION_TTL_MS },
    });
  }

  /** Whether the request presents a session cookie at all (a cheap test before reading the store). */
  static presented(req: IncomingMessage): boolean {
    return req.headers.cookie?.includes(`${SESSION_COOKIE}=`) === true;
  }

  /**
   * Runs the session middleware on a request or handshake; the signed-in session, or null.
   * `whileReading` gets the user a well-signed cookie was issued to, while the store is read.
   */
  async load(req: IncomingMessage, res: ServerResponse, whileReading?: (userId: string) => void): Promise<ActiveSession | null> {
    const r = req as WithSession;
    if (!r.session) {
      const reading = storeCall((done) => this.middleware(r as Request, res as Response, done));
      // express-session checks the cookie's signature before it asks the store (synchronously).
      const userId = r.session ? undefined : USER_PREFIX.exec(r.sessionID ?? '')?.[1];
      if (userId) whileReading?.(userId);
      await reading;
    }
    // express-session passes requests through without a session while its store reports itself down.
    if (!r.session) throw sessionStoreUnavailable();
    return active(r.sessionID as string, r.session);
  }

  /**
   * The signed-in session of a request, read from the store as `load` reads it but without
   * express-session's work on each request (a Session object, two hashes of it, the response
   * wrapped to save changes): authentication only reads. Whatever changes the session (sign-in,
   * clinic switch, sign-out) goes through `load`. `whileReading` as for `load`.
   */
  async read(req: IncomingMessage, whileReading?: (userId: string) => void): Promise<ActiveSession | null> {
    const id = signedSessionId(req.headers.cookie, this.opts.secrets);
    if (!id) return null;
    const stored = new Promise<Partial<session.SessionData> | null | undefined>((resolve, reject) =>
      // As express-session: ENOENT is a missing session, any other failure an outage.
      this.store.get(id, (err: (Error & { code?: string }) | null, sess) => (err && err.code !== 'ENOENT' ? reject(sessionStoreUnavailable()) : resolve(sess))),
    );
    const userId = USER_PREFIX.exec(id)?.[1];
    if (userId) whileReading?.(userId);
    return active(id, await stored);
  }

  /** Signs in under a new session id (no fixation): the request's previous session ends. */
  async start(req: Request, res: Response, who: { userId: string; clinicId: string }): Promise<void> {
    await this.load(req, res);
    // A Secure cookie cannot travel over plain http: production signs in only behind https.
    if (this.opts.production && !req.secure) {
      if (req.session.userId) await storeCall((done) => req.session.destroy(done));
      return;
    }
    signingIn.set(req, who.userId);
    await storeCall((done) => req.session.regenerate(done));
    Object.assign(req.session, { userId: who.userId, clinicId: who.clinicId, startedAt: Date.now() });
    // Saved before answering, so a store failure is a 503 rather than a cookie naming nothing.
    await storeCall((done) => req.session.save(done));
  }

  /** Another clinic of the same user becomes the active one; the session keeps its end. */
  async switchClinic(req: Request, res: Response, clinicId: string): Promise<void> {
    await this.load(req, res);
    if (!req.session.userId) return;
    req.session.clinicId = clinicId;
    // The cookie re-sent with this change keeps the session's end, not 12 h from now.
    req.session.cookie.maxAge = Math.max(0, msLeft(req.session));
    await storeCall((done) => req.session.save(done));
  }

  /** Ends the request's session, if any, and clears its cookie. */
  async end(req: Request, res: Response): Promise<void> {
    if (Sessions.presented(req)) {
      await this.load(req, res);
      if (req.session.userId) await storeCall((done) => req.session.destroy(done));
      res.clearCookie(SESSION_COOKIE, this.cookie);
    }
  }

  close() {
    if (this.store instanceof ExpiringMemoryStore) this.store.close();
  }
}
