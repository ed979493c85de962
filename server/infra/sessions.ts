import session, { type Store } from 'express-session';
import createMemoryStore from 'memorystore';
import RedisStore from 'connect-redis';
import type { RequestHandler } from 'express';
import type { Redis } from './redis.js';

export const SESSION_COOKIE = 'opb.sid';
export const SESSION_TTL_SECONDS = 12 * 3600;

export interface SessionOptions {
  secret: string;
  production: boolean;
  redis?: Redis;
  prefix: string;
}

/**
 * Sessions end SESSION_TTL_SECONDS after sign-in, whatever the activity: the cookie is not rolling,
 * so the stores are not "touched" either (a touch per request would cost a Redis round trip and
 * would keep a copied cookie alive past the browser's expiry).
 */
export function createSessionStore(opts: Pick<SessionOptions, 'redis' | 'prefix'>): Store {
  if (opts.redis) {
    // connect-redis 7 speaks to ioredis; 9+ only to node-redis (see STACK.md).
    return new RedisStore({ client: opts.redis, prefix: `${opts.prefix}sess:`, ttl: SESSION_TTL_SECONDS, disableTouch: true });
  }
  const MemoryStore = createMemoryStore(session);
  const store = new MemoryStore({ checkPeriod: 10 * 60_000, ttl: SESSION_TTL_SECONDS * 1000 });
  // express-session touches only stores that have a touch method.
  Object.defineProperty(store, 'touch', { value: undefined });
  return store;
}

export function createSessionMiddleware(opts: SessionOptions, store: Store): RequestHandler {
  return session({
    name: SESSION_COOKIE,
    secret: opts.secret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    proxy: true,
    cookie: {
      httpOnly: true,
      // The web app lives on another site (Vercel): production cookies must be cross-site.
      secure: opts.production,
      sameSite: opts.production ? 'none' : 'lax',
      maxAge: SESSION_TTL_SECONDS * 1000,
    },
  });
}
