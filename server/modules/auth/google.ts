import { timingSafeEqual } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { CodeChallengeMethod, type OAuth2Client } from 'google-auth-library';
import type { z } from 'zod';
import type { googleCallbackQuery } from '../../../shared/api/auth.js';
import { users } from '../../../shared/schema/index.js';
import type { BaseContext } from '../../http/context.js';
import type { Infra } from '../../infra/index.js';
import { SecretBox } from '../../lib/crypto.js';
import { AppError, notConfigured } from '../../lib/errors.js';
import { randomToken } from '../../lib/tokens.js';
import { googleOAuthClient } from '../integrations/google-oauth.js';
import type { InvitationService, VerifiedIdentity } from '../team/invitations.js';
import type { AuthService, SignedIn } from './service.js';

/** Binds a sign-in to the browser that started it; sent only to the two Google sign-in routes. */
export const GOOGLE_SIGNIN_COOKIE = 'opb.google';
export const GOOGLE_SIGNIN_COOKIE_PATH = '/api/auth/google';
export const GOOGLE_STATE_TTL_MS = 10 * 60_000;
const SCOPES = ['openid', 'email', 'profile'];

/** What the sealed cookie holds: the request's `state`, ID token `nonce` and PKCE verifier. */
interface Binding {
  state: string;
  nonce: string;
  verifier: string;
  invitation?: string | undefined;
  expiresAt: number;
}

/** Signed in, or refused with a code the web app shows (no session either way but the first). */
export type GoogleOutcome = { signedIn: SignedIn } | { refused: string };

const badState = (message: string) => new AppError(400, 'invalid_oauth_state', message);
const sameString = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * Sign in with Google (OpenID Connect, authorization code with PKCE). Nothing is stored before
 * sign-in: `state`, `nonce` and the PKCE verifier travel in a short-lived cookie sealed with a key
 * derived from ENCRYPTION_KEY, so a callback is accepted only in the browser that started it.
 * A verified Google email signs in its existing account, or accepts an invitation for it; no
 * clinic is ever created here.
 */
export class GoogleSignIn {
  private client: OAuth2Client | undefined;
  private readonly box: SecretBox;

  constructor(
    private readonly infra: Infra,
    private readonly auth: AuthService,
    private readonly invitations: InvitationService,
  ) {
    this.box = new SecretBox(infra.secrets.deriveKey('google-signin-state').toString('base64'));
  }

  private get oauth(): OAuth2Client {
    const { google } = this.infra.config;
    if (!google.clientId || !google.clientSecret || !google.signInRedirectUri) throw notConfigured('Google sign-in');
    this.client ??= googleOAuthClient(this.infra.config, google.signInRedirectUri);
    return this.client;
  }

  /** The consent page to send the browser to, and the sealed cookie that goes with it. */
  async start(invitation: string | undefined): Promise<{ url: string; cookie: string }> {
    const oauth = this.oauth;
    const { codeVerifier, codeChallenge } = await oauth.generateCodeVerifierAsync();
    const binding: Binding = { state: randomToken(), nonce: randomToken(), verifier: codeVerifier, invitation, expiresAt: Date.now() + GOOGLE_STATE_TTL_MS };
    const url = oauth.generateAuthUrl({
      scope: SCOPES,
      state: binding.state,
      nonce: binding.nonce,
      code_challenge: codeChallenge as string,
      code_challenge_method: CodeChallengeMethod.S256,
      // A shared clinic computer: let the user pick the account rather than reuse the last one.
      prompt: 'select_account',
    });
    return { url, cookie: this.box.seal(JSON.stringify(binding)) };
  }

  /**
   * The callback: `state` must be the one sealed in this browser's cookie, unexpired; the code is
   * exchanged (with the PKCE verifier), the ID token verified by google-auth-library (signature
   * against Google's certificates, issuer, audience, expiry) and its nonce compared.
   */
  async finish(query: z.infer<typeof googleCallbackQuery>, sealed: string | undefined, info: BaseContext): Promise<GoogleOutcome> {
    const oauth = this.oauth;
    const binding = this.open(sealed, query.state);
    if (query.error || !query.code) return this.refuse('google_denied');
    const token = await this.idToken(oauth, query.code, binding);
    if ('refused' in token) return token;
    const { email, email_verified: verified, name, nonce } = token.payload;
    if (typeof nonce !== 'string' || !sameString(nonce, binding.nonce)) throw new AppError(400, 'invalid_oauth_nonce', 'The Google answer does not belong to this sign-in: start again');
    if (!email || verified !== true) return this.refuse('google_email_unverified');
    try {
      const signedIn = await this.signIn({ email: email.toLowerCase(), name }, binding.invitation, info);
      return signedIn ? { signedIn } : this.refuse('google_account_not_found');
    } catch (err) {
      // The invitation's or the account's refusals (expired, revoked, another email, no active clinic).
      if (err instanceof AppError && err.status < 500) return this.refuse(err.code === 'not_found' ? 'invitation_not_found' : err.code);
      throw err;
    }
  }

  /** Where the browser goes afterwards: the web app, with the refusal's code if any. */
  appUrl(outcome: GoogleOutcome): string {
    const app = this.infra.config.publicAppUrl;
    return 'refused' in outcome ? `${app}/entrar?google_error=${encodeURIComponent(outcome.refused)}` : `${app}/`;
  }

  private open(sealed: string | undefined, state: string): Binding {
    // A browser drops the cookie once its 10 minutes are over: late is also "not started here".
    if (!sealed) throw badState('This sign-in was not started in this browser, or took too long: start again');
    let binding: Binding;
    try {
      binding = JSON.parse(this.box.open(sealed)) as Binding;
    } catch {
      throw badState('This sign-in was not started in this browser: start again');
    }
    if (!sameString(binding.state, state)) throw badState('This sign-in was not started in this browser: start again');
    if (binding.expiresAt < Date.now()) throw new AppError(400, 'oauth_state_expired', 'This sign-in took too long: start again');
    return binding;
  }

  private async idToken(oauth: OAuth2Client, code: string, binding: Binding) {
    let idToken: string | null | undefined;
    try {
      idToken = (await oauth.getToken({ code, codeVerifier: binding.verifier })).tokens.id_token;
    } catch (err) {
      // Only the status and OAuth error code: the error also carries the request (secret, code).
      const response = (err as { response?: { status?: number; data?: { error?: unknown } } }).response;
      this.infra.log.warn({ status: response?.status, error: response?.data?.error }, 'google sign-in: code exchange failed');
      return this.refuse(response?.status !== undefined && response.status < 500 ? 'google_code_refused' : 'google_unavailable');
    }
    if (!idToken) return this.refuse('google_token_invalid');
    try {
      const ticket = await oauth.verifyIdToken({ idToken, audience: this.infra.config.google.clientId as string });
      const payload = ticket.getPayload();
      return payload ? { payload } : this.refuse('google_token_invalid');
    } catch (err) {
      // The library's messages quote the token and its claims (the email): never logged.
      const unreachable = (err as Error).message.startsWith('Failed to retrieve verification certificates');
      this.infra.log.warn(unreachable ? 'google sign-in: certificates unreachable' : 'google sign-in: ID token refused');
      return this.refuse(unreachable ? 'google_unavailable' : 'google_token_invalid');
    }
  }

  /** The existing account, or the invitation (named by the link, else pending for the email). */
  private async signIn(identity: VerifiedIdentity, invitation: string | undefined, info: BaseContext): Promise<SignedIn | undefined> {
    const details = { method: 'google' };
    const [user] = await this.infra.db.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = ${identity.email}`);
    if (user && !invitation) return this.auth.signInAs(user.id, info, details);
    const joined = invitation ? await this.invitations.acceptWithVerifiedEmail(invitation, identity, info) : await this.invitations.acceptPendingFor(identity, info);
    return joined && this.auth.signInAs(joined.userId, info, { ...details, invitation: true }, joined.clinicId);
  }

  private refuse(code: string): { refused: string } {
    this.infra.log.info({ code }, 'google sign-in refused');
    return { refused: code };
  }
}
