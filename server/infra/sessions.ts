import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Request, Response } from 'express';
import { sessionStoreUnavailable } from '../http/errors.js';
import type { Redis } from './redis.js';

export const SESSION_COOKIE = 'opb.sid';
export const SESSION_TTL_SECONDS = 12 * 3600;

/** What a signed-in session holds: identity only, never health data. */
export interface SessionData {
  userId: string;
  clinicId: string;
  /** Epoch ms of sign-in; sessions older than the user's last password change are refused. */
  startedAt: number;
}

/** What a session cookie names. */
export interface SessionRef {
  id: string;
  userId: string;
}

export interface LoadedSession {
  id: string;
  data: SessionData;
}

export interface SessionStore {
  get(id: string): Promise<SessionData | null>;
  set(id: string, data: SessionData, ttlSeconds: number): Promise<void>;
  destroy(id: string): Promise<void>;
  close(): void;
}

/** Sessions of one process (embedded mode); expired entries are swept every ten minutes. */
export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, { data: SessionData; expiresAt: number }>();
  private readonly sweeper = setInterval(() => {
    const now = Date.now();
    for (const [id, entry] of this.sessions) if (entry.expiresAt <= now) this.sessions.delete(id);
  }, 10 * 60_000).unref();

  async get(id: string) {
    const entry = this.sessions.get(id);
    if (!entry) return null;
    if (entry.expiresAt > Date.now()) return entry.data;
    this.sessions.delete(id);
    return null;
  }

  async set(id: string, data: SessionData, ttlSeconds: number) {
    // A frozen copy: the caller's object and later readers never share a mutable one.
    this.sessions.set(id, { data: Object.freeze({ ...data }), expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async destroy(id: string) {
    this.sessions.delete(id);
  }

  close() {
    clearInterval(this.sweeper);
  }
}

/** Sessions shared by every instance; Redis expires them. Errors reach the caller (503). */
export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async get(id: string) {
    const raw = await this.redis.get(this.prefix + id);
    return raw === null ? null : (JSON.parse(raw) as SessionData);
  }

  async set(id: string, data: SessionData, ttlSeconds: number) {
    await this.redis.set(this.prefix + id, JSON.stringify(data), 'EX', ttlSeconds);
  }

  async destroy(id: string) {
    await this.redis.del(this.prefix + id);
  }

  close() {}
}

export function createSessionStore(opts: { redis?: Redis; prefix: string }): SessionStore {
  return opts.redis ? new RedisSessionStore(opts.redis, `${opts.prefix}sess:`) : new MemorySessionStore();
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set on the routes that load the session (every tenant route, and sign-in routes). */
    session?: SessionData;
    sessionId?: string;
  }
}

const MAX_VERIFIED = 10_000;

/** The store did not answer (Redis down): a retryable 503, never a 500. */
const storeCall = <T>(call: Promise<T>): Promise<T> => call.catch(() => Promise.reject(sessionStoreUnavailable()));

/**
 * Cookie sessions: `<userId>.<random 256-bit id>`, signed with SESSION_SECRET, naming a store
 * entry. The user id in the cookie lets authentication read the session and the user's account
 * in parallel (one Redis round trip, pipelined, instead of two in a row); the entry must agree.
 * A session ends SESSION_TTL_SECONDS after sign-in whatever the activity (no rolling cookie), so
 * reading one never writes. Written instead of express-session, whose per-request hashing and
 * bookkeeping were a tenth of the CPU of `GET /api/auth/me`.
 */
export class Sessions {
  private readonly key: KeyObject;
  /** Cookie values whose signature checked out: the HMAC runs once per cookie, not per request. */
  private readonly verified = new Map<string, SessionRef>();

  constructor(
    readonly store: SessionStore,
    private readonly opts: { secret: string; production: boolean },
  ) {
    this.key = createSecretKey(Buffer.from(opts.secret));
  }

  /** What a well-signed session cookie names, without reading the store; null otherwise. */
  parse(cookieHeader: string | undefined): SessionRef | null {
    return this.unsign(readCookie(cookieHeader, SESSION_COOKIE));
  }

  /** The live session behind a parsed cookie, or null (expired, ended, or not that user's). */
  async get(ref: SessionRef): Promise<LoadedSession | null> {
    const data = await storeCall(this.store.get(ref.id));
    return data && data.userId === ref.userId ? { id: ref.id, data } : null;
  }

  /** The session the cookie names, or null (no cookie, bad signature, expired, ended). */
  async read(cookieHeader: string | undefined): Promise<LoadedSession | null> {
    const ref = this.parse(cookieHeader);
    return ref ? this.get(ref) : null;
  }

  /** Sets req.session and req.sessionId when the request carries a live session. */
  async load(req: Request): Promise<void> {
    const found = await this.read(req.headers.cookie);
    req.session = found?.data;
    req.sessionId = found?.id;
  }

  /** Signs in under a new session id (no fixation): the request's previous session ends. */
  async start(req: Request, res: Response, who: { userId: string; clinicId: string }): Promise<void> {
    if (req.sessionId) await storeCall(this.store.destroy(req.sessionId));
    req.session = undefined;
    req.sessionId = undefined;
    // A Secure cookie cannot travel over plain http: production signs in only behind https.
    if (this.opts.production && !req.secure) return;
    const id = randomBytes(32).toString('base64url');
    const data: SessionData = { userId: who.userId, clinicId: who.clinicId, startedAt: Date.now() };
    await storeCall(this.store.set(id, data, SESSION_TTL_SECONDS));
    req.session = data;
    req.sessionId = id;
    const payload = `${who.userId}.${id}`;
    res.cookie(SESSION_COOKIE, `${payload}.${this.sign(payload)}`, {
      httpOnly: true,
      // The web app lives on another site (Vercel): production cookies must be cross-site.
      secure: this.opts.production,
      sameSite: this.opts.production ? 'none' : 'lax',
      maxAge: SESSION_TTL_SECONDS * 1000,
      path: '/',
    });
  }

  /** Another clinic of the same user becomes the active one; the session keeps its expiry. */
  async switchClinic(req: Request, clinicId: string): Promise<void> {
    if (!req.session || !req.sessionId) return;
    const data = { ...req.session, clinicId };
    const secondsLeft = Math.ceil((data.startedAt + SESSION_TTL_SECONDS * 1000 - Date.now()) / 1000);
    if (secondsLeft > 0) await storeCall(this.store.set(req.sessionId, data, secondsLeft));
    req.session = data;
  }

  /** Ends the request's session, if any, and clears its cookie. */
  async end(req: Request, res: Response): Promise<void> {
    if (req.sessionId) await storeCall(this.store.destroy(req.sessionId));
    if (req.sessionId || req.headers.cookie?.includes(`${SESSION_COOKIE}=`)) res.clearCookie(SESSION_COOKIE, { path: '/' });
    req.session = undefined;
    req.sessionId = undefined;
  }

  private sign(payload: string) {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  private unsign(value: string | undefined): SessionRef | null {
    if (!value) return null;
    const known = this.verified.get(value);
    if (known) return known;
    const lastDot = value.lastIndexOf('.');
    const firstDot = value.indexOf('.');
    if (firstDot <= 0 || lastDot <= firstDot + 1) return null;
    const payload = value.slice(0, lastDot);
    const given = Buffer.from(value.slice(lastDot + 1));
    const expected = Buffer.from(this.sign(payload));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const ref = { userId: value.slice(0, firstDot), id: value.slice(firstDot + 1, lastDot) };
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(value, ref);
    return ref;
  }
}

/** One cookie's raw value (ours are base64url and never URI-encoded), found without splitting the header. */
function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  const key = `${name}=`;
  for (let at = header.indexOf(key); at !== -1; at = header.indexOf(key, at + 1)) {
    // A whole cookie name: at the start or after `;` and optional spaces (not `xopb.sid=`).
    let before = at - 1;
    while (before >= 0 && header[before] === ' ') before--;
    if (before >= 0 && header[before] !== ';') continue;
    const end = header.indexOf(';', at);
    return header.slice(at + key.length, end === -1 ? undefined : end).trim();
  }
  return undefined;
}
