import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Runs middlewares in order as one Express layer: each router layer costs a path match and a
 * `next` dispatch, a noticeable part of a fast request (bench/auth-me.ts). Errors, thrown or
 * rejected, go to Express's error handlers as they would from separate layers.
 */
export function compose(handlers: readonly RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, done: NextFunction) => {
    let index = 0;
    const next = (err?: unknown): void => {
      if (err !== undefined && err !== null) return done(err);
      const handler = handlers[index++];
      if (!handler) return done();
      try {
        const result: unknown = handler(req, res, next);
        if (result instanceof Promise) result.catch(done);
      } catch (thrown) {
        done(thrown);
      }
    };
    next();
  };
}
