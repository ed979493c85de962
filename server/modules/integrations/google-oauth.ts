import { OAuth2Client } from 'google-auth-library';
import type { Config } from '../../config.js';
import { notConfigured } from '../../lib/errors.js';

/** Whether the Google OAuth client is configured (Calendar links and sign-in with Google both need it). */
export const googleConfigured = (config: Config) => Boolean(config.google.clientId && config.google.clientSecret);

/**
 * The one place the Google OAuth client is built: the configured client id and secret, the consent
 * page and token endpoint from config (Google's by default, a fake in tests), and the redirect of the
 * feature using it (`GOOGLE_REDIRECT_URI` unless the caller names its own, e.g. sign-in's callback).
 * Throws 503 `integration_not_configured` when the client is not set up.
 */
export function googleOAuthClient(config: Config, redirectUri = config.google.redirectUri): OAuth2Client {
  if (!googleConfigured(config)) throw notConfigured('Google');
  return new OAuth2Client({
    clientId: config.google.clientId,
    clientSecret: config.google.clientSecret,
    redirectUri,
    endpoints: {
      oauth2TokenUrl: config.google.oauthTokenUrl,
      oauth2AuthBaseUrl: config.google.oauthAuthUrl,
      // Beside the token endpoint, as Google has it (oauth2.googleapis.com/revoke).
      oauth2RevokeUrl: new URL('revoke', config.google.oauthTokenUrl).toString(),
    },
  });
}
