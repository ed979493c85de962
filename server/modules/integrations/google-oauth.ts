import { OAuth2Client } from 'google-auth-library';
import type { Config } from '../../config.js';
import { notConfigured } from '../../lib/errors.js';

/** Whether the Google OAuth client is configured (Calendar links and sign-in with Google both need it). */
export const googleConfigured = (config: Config) => Boolean(config.google.clientId && config.google.clientSecret);

/**
 * The one OAuth client configuration (GOOGLE_CLIENT_ID/SECRET) for Calendar and sign-in, each with
 * its own redirect URI (`GOOGLE_REDIRECT_URI` unless the caller names its own, e.g. sign-in's
 * callback). Every Google endpoint comes from config (Google's by default), so a fake or an
 * emulator stands in without code changes. Throws 503 `integration_not_configured` when unset.
 */
export function googleOAuthClient(config: Config, redirectUri = config.google.redirectUri): OAuth2Client {
  if (!googleConfigured(config)) throw notConfigured('Google');
  const { google } = config;
  return new OAuth2Client({
    clientId: google.clientId,
    clientSecret: google.clientSecret,
    redirectUri,
    endpoints: {
      oauth2AuthBaseUrl: google.oauthAuthUrl,
      oauth2TokenUrl: google.oauthTokenUrl,
      oauth2FederatedSignonPemCertsUrl: google.oauthCertsUrl,
      // Beside the token endpoint, as Google has it (oauth2.googleapis.com/revoke).
      oauth2RevokeUrl: new URL('revoke', google.oauthTokenUrl).toString(),
    },
    // A Google that does not answer must not hold a request (and a worker) forever.
    transporterOptions: { timeout: 10_000 },
  });
}
