import type { RequestHandler } from 'express';

const METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE';
const EXPOSED = 'X-Request-Id,Retry-After';
const MAX_AGE_SECONDS = '600';

/**
 * CORS for the CORS_ORIGINS allowlist, with credentials (the web app sends its session cookie):
 * what the `cors` package answers for this one configuration, without the option objects it
 * builds on every request (bench/auth-me.ts). Other origins get no grant; preflights end here.
 */
export function corsAllowlist(isAllowed: (origin: string | undefined) => boolean): RequestHandler {
  return (req, res, next) => {
    const origin = req.headers.origin;
    const allowed = origin !== undefined && isAllowed(origin);
    // The answer depends on the Origin: caches must keep one copy per origin.
    res.setHeader('Vary', 'Origin');
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      const asked = req.headers['access-control-request-headers'];
      if (allowed) {
        res.setHeader('Access-Control-Allow-Methods', METHODS);
        if (asked) res.setHeader('Access-Control-Allow-Headers', asked);
        res.setHeader('Access-Control-Max-Age', MAX_AGE_SECONDS);
      }
      res.setHeader('Vary', 'Origin, Access-Control-Request-Headers');
      res.statusCode = 204;
      res.setHeader('Content-Length', '0');
      res.end();
      return;
    }
    if (allowed) res.setHeader('Access-Control-Expose-Headers', EXPOSED);
    next();
  };
}
