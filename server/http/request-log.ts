import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { loggableUrl, type Logger } from '../infra/logger.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Request id (an incoming `X-Request-Id` is kept when well-formed, else generated; echoed back),
 * a child logger that stamps it on every line, and one line per answer. Written instead of
 * pino-http because that one serialised the request into every child logger and was a tenth of
 * the CPU of a request (bench/auth-me.ts); the root logger's redaction applies to every line.
 */
export function requestLogger(log: Logger, opts: { quietPaths: readonly string[] }): RequestHandler {
  const quiet = new Set(opts.quietPaths);
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    req.log = log.child({ reqId: id });
    res.setHeader('X-Request-Id', id);
    const start = performance.now();
    res.once('close', () => {
      if (quiet.has(req.originalUrl) && res.statusCode < 400) return;
      const line = {
        reqId: id,
        method: req.method,
        url: loggableUrl(req.originalUrl),
        status: res.statusCode,
        ms: Math.round((performance.now() - start) * 10) / 10,
      };
      if (!res.writableFinished) log.warn(line, 'request aborted');
      else if (res.statusCode >= 500) log.error(line, 'request completed');
      else log.info(line, 'request completed');
    });
    next();
  };
}
