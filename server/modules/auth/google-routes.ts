import type { Request } from 'express';
import { googleCallbackQuery, googleSignInQuery } from '../../../shared/api/auth.js';
import { publicRoute } from '../../http/route.js';
import type { Sessions } from '../../infra/sessions.js';
import { GOOGLE_SIGNIN_COOKIE, GOOGLE_SIGNIN_COOKIE_PATH, GOOGLE_STATE_TTL_MS, type GoogleSignIn } from './google.js';

const tag = 'Auth';

const cookieOf = (req: Request, name: string) =>
  req.headers.cookie
    ?.split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith(`${name}=`))
    ?.slice(name.length + 1);

export const googleSignInRoutes = (google: GoogleSignIn, sessions: Sessions, production: boolean) => {
  // Lax, not None: Google's redirect back is a top-level GET, which carries Lax cookies cross-site.
  const cookie = { httpOnly: true, secure: production, sameSite: 'lax', path: GOOGLE_SIGNIN_COOKIE_PATH } as const;
  return [
    publicRoute({
      method: 'get',
      path: '/auth/google',
      summary:
        'Sign in with Google: redirects to Google’s consent page (openid email profile); `?invitation=<token>` accepts that invitation with the Google account of its email. 503 integration_not_configured without Google',
      tag,
      rateLimit: 'public',
      status: 302,
      schemas: { query: googleSignInQuery },
      handler: async ({ query, res }) => {
        const { url, cookie: sealed } = await google.start(query.invitation);
        res.cookie(GOOGLE_SIGNIN_COOKIE, sealed, { ...cookie, maxAge: GOOGLE_STATE_TTL_MS });
        res.redirect(302, url);
      },
    }),
    publicRoute({
      method: 'get',
      path: '/auth/google/callback',
      session: true,
      summary:
        'Google’s redirect back: signs in (as a password login does) the account of the verified Google email, or accepts its invitation, then redirects to the web app; a refusal redirects to `/entrar?google_error=<code>` with no session. A `state` not started in this browser, expired, or a foreign nonce: 400',
      tag,
      rateLimit: 'googleSignIn',
      status: 302,
      schemas: { query: googleCallbackQuery },
      handler: async ({ query, ctx, req, res }) => {
        const sealed = cookieOf(req, GOOGLE_SIGNIN_COOKIE);
        // One use, whatever the outcome.
        res.clearCookie(GOOGLE_SIGNIN_COOKIE, cookie);
        const outcome = await google.finish(query, sealed, ctx);
        if ('signedIn' in outcome) await sessions.start(req, res, outcome.signedIn);
        res.redirect(302, google.appUrl(outcome));
      },
    }),
  ];
};
