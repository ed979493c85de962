import type { RequestHandler } from 'express';
import { AppError } from '../lib/errors.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A cookie-authenticated unsafe request must come from an allowed origin (or our own). Requests
 * authenticated by an API key carry no ambient credential and are not subject to it.
 * `allowedOrigins`, given in development only, is named in the refusal so a curl user knows what
 * to send; production does not list its origins to strangers.
 */
export function requireTrustedOrigin(
  cookieName: string,
  isAllowed: (origin: string | undefined) => boolean,
  opts: { allowedOrigins?: readonly string[] } = {},
): RequestHandler {
  return (req, _res, next) => {
    if (SAFE.has(req.method)) return next();
    if (req.headers.authorization?.startsWith('Bearer ')) return next();
    if (!req.headers.cookie?.includes(`${cookieName}=`)) return next();
    const origin = req.headers.origin;
    const own = `${req.protocol}://${req.get('host')}`;
    if (isAllowed(origin) || (origin !== undefined && origin === own)) return next();
    if (!opts.allowedOrigins) return next(new AppError(403, 'origin_not_allowed', 'This request must come from an allowed origin'));
    const allowedOrigins = [own, ...opts.allowedOrigins];
    next(new AppError(403, 'origin_not_allowed', `This request must come from an allowed origin: send the header "Origin: ${own}" (or another of details.allowedOrigins)`, { allowedOrigins }));
  };
}

/**
 * Fetch Metadata resource isolation: the session cookie (SameSite=None in production, so sent on
 * every cross-site request) counts only for requests the browser marks as ours: same-origin, typed
 * by the user (`none`), or a CORS request from an allowed origin. A cross-site `<img>`, `<script>`,
 * form or link then reaches the API without a session: a clinical GET answers 401 instead of
 * reading data and writing "viewed" rows in the professional's name, while public token links
 * (anamnesis forms, signed file links) still open. Browsers without Fetch Metadata and non-browser
 * clients send no `Sec-Fetch-Site` and are left to the Origin check above.
 */
export function isolateCookieFromCrossSite(isAllowed: (origin: string | undefined) => boolean, crossSiteCookies: readonly string[] = []): RequestHandler {
  return (req, _res, next) => {
    const site = req.headers['sec-fetch-site'];
    if (site === undefined || site === 'same-origin' || site === 'none' || !req.headers.cookie) return next();
    if (req.headers['sec-fetch-mode'] === 'cors' && isAllowed(req.headers.origin)) return next();
    // Kept: cookies that grant nothing by themselves, e.g. the one binding a Google sign-in to the
    // browser that started it, which comes back on Google's cross-site redirect.
    const kept = req.headers.cookie
      .split(';')
      .map((part) => part.trim())
      .filter((part) => crossSiteCookies.some((name) => part.startsWith(`${name}=`)));
    if (kept.length > 0) req.headers.cookie = kept.join('; ');
    else delete req.headers.cookie;
    next();
  };
}
