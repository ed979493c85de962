import type { RequestHandler } from 'express';
import { rateLimit, ipKeyGenerator, type Store } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Logger } from '../infra/logger.js';
import type { Redis } from '../infra/redis.js';
import type { RateLimitName } from './route.js';
import { AppError } from '../lib/errors.js';

export type RateLimits = Record<RateLimitName, number>;

const WINDOW_MS: Record<RateLimitName, number> = {
  login: 15 * 60_000,
  register: 60 * 60_000,
  passwordReset: 15 * 60_000,
  public: 60_000,
  changePassword: 15 * 60_000,
  googleSignIn: 15 * 60_000,
};

/** One limiter per name; counters live in Redis when it is configured so every instance shares them. */
export function createRateLimiters(limits: RateLimits, redis: Redis | undefined, prefix: string, log: Logger): Record<RateLimitName, RequestHandler> {
  // Store errors (Redis down) go to the structured log, once per request, instead of the console.
  const logger = {
    error: (err: unknown, message?: string) => log.warn({ err: { message: (err as Error)?.message } }, message ?? 'rate limit store error'),
    warn: (err: unknown, message?: string) => log.warn({ err: { message: (err as Error)?.message } }, message ?? 'rate limit warning'),
  };
  const make = (name: RateLimitName): RequestHandler => {
    const store: Store | undefined = redis
      ? new RedisStore({
          prefix: `${prefix}rl:${name}:`,
          sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as Promise<RedisReply>,
        })
      : undefined;
    return rateLimit({
      windowMs: WINDOW_MS[name],
      limit: limits[name],
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      // A Redis outage must not lock everyone out.
      passOnStoreError: true,
      logger,
      store,
      keyGenerator: (req, res) => {
        // Signed-in routes count per user or key (see mount.ts), whatever address the guesses come from.
        const subject: unknown = res.locals.rateLimitSubject;
        if (typeof subject === 'string') return `subject:${subject}`;
        const ip = ipKeyGenerator(req.ip ?? 'unknown');
        const email = name === 'login' && typeof req.body?.email === 'string' ? req.body.email.toLowerCase().slice(0, 200) : '';
        return `${ip}:${email}`;
      },
      handler: (_req, res, next, options) => {
        res.setHeader('Retry-After', String(Math.ceil(options.windowMs / 1000)));
        next(new AppError(429, 'rate_limited', 'Too many requests; try again later'));
      },
    });
  };
  return {
    login: make('login'),
    register: make('register'),
    passwordReset: make('passwordReset'),
    public: make('public'),
    changePassword: make('changePassword'),
    googleSignIn: make('googleSignIn'),
  };
}
