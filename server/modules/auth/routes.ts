import { z } from 'zod';
import {
  changePasswordBody,
  loginBody,
  meResponse,
  passwordResetBody,
  passwordResetConfirmBody,
  registerBody,
  supabaseSignInBody,
  switchClinicBody,
} from '../../../shared/api/auth.js';
import { actorUserId } from '../../http/context.js';
import { publicRoute, route } from '../../http/route.js';
import type { Realtime } from '../../infra/realtime.js';
import type { Sessions } from '../../infra/sessions.js';
import type { AuthService } from './service.js';
import type { SupabaseSignIn } from './supabase.js';

const ok = z.object({ ok: z.literal(true) });
const tag = 'Auth';

export const authRoutes = (auth: AuthService, supabase: SupabaseSignIn, sessions: Sessions, realtime: Realtime) => [
  publicRoute({
    method: 'post',
    path: '/auth/register',
    session: true,
    summary: 'Create a clinic with the caller as its admin and sign in',
    tag,
    rateLimit: 'register',
    status: 201,
    schemas: { body: registerBody },
    response: meResponse,
    handler: async ({ body, ctx, req, res }) => {
      const who = await auth.register(body, ctx);
      await sessions.start(req, res, who);
      return auth.me(who.userId, who.clinicId);
    },
  }),
  publicRoute({
    method: 'post',
    path: '/auth/login',
    session: true,
    summary: 'Sign in with email and password',
    tag,
    rateLimit: 'login',
    schemas: { body: loginBody },
    response: ok,
    handler: async ({ body, ctx, req, res }) => {
      const who = await auth.login(body.email, body.password, ctx);
      await sessions.start(req, res, who);
      return { ok: true };
    },
  }),
  publicRoute({
    method: 'post',
    path: '/auth/supabase',
    session: true,
    summary: 'Sign in with a Supabase Auth access token (accounts of the original deployment)',
    tag,
    rateLimit: 'login',
    schemas: { body: supabaseSignInBody },
    response: meResponse,
    handler: async ({ body, ctx, req, res }) => {
      const who = await supabase.signIn(body.accessToken, ctx);
      await sessions.start(req, res, who);
      return auth.me(who.userId, who.clinicId);
    },
  }),
  publicRoute({
    method: 'post',
    path: '/auth/logout',
    session: true,
    summary: 'End the session',
    tag,
    handler: async ({ req, res }) => {
      const ending = req.session?.userId ? req.sessionID : undefined;
      await sessions.end(req, res);
      if (ending) realtime.endSession(ending);
      return undefined;
    },
  }),
  route({
    method: 'get',
    path: '/auth/me',
    summary: 'The signed-in user, active clinic, role and memberships',
    tag,
    access: 'authenticated',
    userOnly: true,
    response: meResponse,
    handler: async ({ ctx }) => auth.me(actorUserId(ctx) as string, ctx.clinicId, ctx.account),
  }),
  route({
    method: 'post',
    path: '/auth/switch-clinic',
    summary: 'Make another of the user’s clinics the active one',
    tag,
    access: 'authenticated',
    userOnly: true,
    schemas: { body: switchClinicBody },
    response: meResponse,
    handler: async ({ body, ctx, req, res }) => {
      const userId = actorUserId(ctx) as string;
      await auth.switchClinic(ctx, userId, body.clinicId);
      await sessions.switchClinic(req, res, body.clinicId);
      // Its sockets reconnect into the new clinic's rooms.
      realtime.endSession(req.sessionID);
      return auth.me(userId, body.clinicId);
    },
  }),
  route({
    method: 'post',
    path: '/auth/change-password',
    summary: 'Change the signed-in user’s password',
    tag,
    access: 'authenticated',
    userOnly: true,
    // Guessing the current password from a stolen session: limited per user like login.
    rateLimit: 'changePassword',
    schemas: { body: changePasswordBody },
    // Every other session of the user ends; this one carries on under a new session id.
    handler: async ({ body, ctx, req, res }) => {
      const userId = actorUserId(ctx) as string;
      await auth.changePassword(ctx, userId, body.currentPassword, body.newPassword);
      await sessions.start(req, res, { userId, clinicId: ctx.clinicId });
      return undefined;
    },
  }),
  publicRoute({
    method: 'post',
    path: '/auth/password-reset',
    summary: 'Email a password reset link (the answer is the same whether or not the email exists)',
    tag,
    rateLimit: 'passwordReset',
    status: 202,
    schemas: { body: passwordResetBody },
    response: ok,
    handler: async ({ body }) => {
      await auth.requestPasswordReset(body.email);
      return { ok: true };
    },
  }),
  publicRoute({
    method: 'post',
    path: '/auth/password-reset/confirm',
    summary: 'Set a new password with the emailed token',
    tag,
    rateLimit: 'passwordReset',
    schemas: { body: passwordResetConfirmBody },
    response: ok,
    handler: async ({ body, ctx }) => {
      await auth.confirmPasswordReset(body.token, body.newPassword, ctx);
      return { ok: true };
    },
  }),
];
