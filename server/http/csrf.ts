import type { RequestHandler } from 'express';
import { AppError } from './errors.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A cookie-authenticated unsafe request must come from an allowed origin (or our own). Requests
 * authenticated by an API key carry no ambient credential and are not subject to it.
 */
export function requireTrustedOrigin(cookieName: string, isAllowed: (origin: string | undefined) => boolean): RequestHandler {
  return (req, _res, next) => {
    if (SAFE.has(req.method)) return next();
    if (req.headers.authorization?.startsWith('Bearer ')) return next();
    if (!req.headers.cookie?.includes(`${cookieName}=`)) return next();
    const origin = req.headers.origin;
    if (isAllowed(origin) || (origin !== undefined && origin === `${req.protocol}://${req.get('host')}`)) return next();
    next(new AppError(403, 'origin_not_allowed', 'This request must come from an allowed origin'));
  };
}
