import type { Infra } from '../../infra/index.js';
import type { AuditService } from '../audit/service.js';
import { defineSubscriber, type Module } from '../module.js';
import type { TeamService } from '../team/service.js';
import { GoogleSignIn } from './google.js';
import { googleSignInRoutes } from './google-routes.js';
import { authRoutes } from './routes.js';
import { AuthService } from './service.js';
import { SupabaseSignIn } from './supabase.js';

/** Sign-up, sign-in, sessions, password changes and resets. */
export function authModule(infra: Infra, deps: { audit: AuditService }): Module<{ auth: AuthService }> {
  const auth = new AuthService(infra, deps.audit);
  return {
    name: 'auth',
    services: { auth },
    routes: authRoutes(auth, new SupabaseSignIn(infra, auth), infra.sessions, infra.realtime),
    jobs: auth.jobs(),
    subscribers: [
      // Accounts (see loadAccount) carry clinic names and zones; a member's own role change drops
      // their account synchronously (TeamService), because permissions ride on it.
      defineSubscriber({ name: 'account-cache', events: ['clinic.updated'], handle: (event) => auth.forgetClinic(event.clinicId) }),
    ],
  };
}

/**
 * Sign in with Google (docs/google-signin.md). A module of its own, listed after team: it accepts
 * invitations, which the team module holds and which itself needs the auth service.
 */
export function googleSignInModule(infra: Infra, deps: { auth: AuthService; team: TeamService }): Module<{ googleSignIn: GoogleSignIn }> {
  const googleSignIn = new GoogleSignIn(infra, deps.auth, deps.team.invitations);
  return { name: 'google-signin', services: { googleSignIn }, routes: googleSignInRoutes(googleSignIn, infra.sessions, infra.config.production) };
}
