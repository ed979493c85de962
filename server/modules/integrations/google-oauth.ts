import { OAuth2Client } from 'google-auth-library';
import type { Config } from '../../config.js';

/**
 * The one OAuth client configuration (GOOGLE_CLIENT_ID/SECRET) for Calendar and sign-in, each with
 * its own redirect URI. Every Google endpoint comes from config (Google's by default), so a fake
 * or an emulator stands in without code changes.
 */
export function googleOAuthClient(config: Config, redirectUri: string): OAuth2Client {
  const { google } = config;
  return new OAuth2Client({
    clientId: google.clientId,
    clientSecret: google.clientSecret,
    redirectUri,
    endpoints: {
      oauth2AuthBaseUrl: google.oauthAuthUrl,
      oauth2TokenUrl: google.oauthTokenUrl,
      oauth2FederatedSignonPemCertsUrl: google.oauthCertsUrl,
    },
    // A Google that does not answer must not hold a request (and a worker) forever.
    transporterOptions: { timeout: 10_000 },
  });
}
