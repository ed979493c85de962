import { randomUUID } from 'node:crypto';
import type { Express, Request, RequestHandler, Response } from 'express';
import { loggableUrl, type Logger } from '../infra/logger.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Request id (an incoming `X-Request-Id` is kept when well-formed, else generated; echoed back),
 * `req.log`, a child logger that stamps it on every line, and one line per answer, whose duration
 * also goes to `observe` (metrics): one listener per request for both. Written instead of
 * pino-http, which serialised the request into every child logger (bench/auth-me.ts).
 *
 * `req.log` is made on first use: most requests never log anything but their answer line.
 */
export function requestLogger(
  app: Express,
  log: Logger,
  opts: { quietPaths: readonly string[]; observe?: (req: Request, res: Response, seconds: number) => void },
): RequestHandler {
  const children = new WeakMap<object, Logger>();
  Object.defineProperty(app.request, 'log', {
    get(this: Express['request']) {
      let child = children.get(this);
      if (!child) children.set(this, (child = log.child({ reqId: this.id })));
      return child;
    },
  });
  // The answer line holds only the fields below (the URL without query or tokens), none of which
  // can carry a secret: it skips the redaction pass, which costs more than the rest of the line.
  const access = log.child({}, { redact: [] });
  const quiet = new Set(opts.quietPaths);
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const start = performance.now();
    // 'close' comes once per response, finished or aborted.
    res.on('close', () => {
      const ms = performance.now() - start;
      opts.observe?.(req, res, ms / 1000);
      if (quiet.has(req.originalUrl) && res.statusCode < 400) return;
      const line = { reqId: id, method: req.method, url: loggableUrl(req.originalUrl), status: res.statusCode, ms: Math.round(ms * 10) / 10 };
      if (!res.writableFinished) access.warn(line, 'request aborted');
      else if (res.statusCode >= 500) access.error(line, 'request completed');
      else access.info(line, 'request completed');
    });
    next();
  };
}
