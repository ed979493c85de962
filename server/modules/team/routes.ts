import { z } from 'zod';
import {
  invitationAccept,
  invitationAcceptAsMember,
  invitationBody,
  invitationCreated,
  invitationPublic,
  pendingInvitation,
  professional,
  revokedWithMember,
  teamMember,
  teamPatch,
  teamMemberChanged,
} from '../../../shared/api/team.js';
import { meResponse } from '../../../shared/api/auth.js';
import { actorUserId } from '../../http/context.js';
import { publicRoute, route, uuidParam } from '../../http/route.js';
import type { AuthService } from '../auth/service.js';
import type { TeamService } from './service.js';
import type { Sessions } from '../../infra/sessions.js';

const userParam = z.strictObject({ userId: z.uuid() });
const tokenParam = z.strictObject({ token: z.string().min(10).max(200) });
const tag = 'Team';

export const teamRoutes = (team: TeamService, auth: AuthService, sessions: Sessions) => [
  route({
    method: 'get',
    path: '/team',
    summary: 'Members of the clinic',
    tag,
    access: 'team:read',
    response: z.object({ items: z.array(teamMember) }),
    handler: async ({ ctx }) => ({ items: await team.list(ctx.clinicId) }),
  }),
  route({
    method: 'patch',
    path: '/team/:userId',
    summary:
      'Change a member’s role, professional flag, status, time zone or hours (admins). Demoting an admin or deactivating a member revokes the invitations and API keys they created (counted in the answer); the last active admin cannot be demoted or deactivated (409 last_admin)',
    tag,
    access: 'team:manage',
    schemas: { params: userParam, body: teamPatch },
    response: teamMemberChanged,
    handler: async ({ ctx, params, body }) => team.update(ctx, params.userId, body),
  }),
  route({
    method: 'delete',
    path: '/team/:userId',
    summary:
      'Remove a member from the clinic (admins); revokes the invitations and API keys they created and the invitations addressed to them (counted in the answer); never the last active admin (409 last_admin)',
    tag,
    access: 'team:manage',
    schemas: { params: userParam },
    response: revokedWithMember,
    handler: async ({ ctx, params }) => team.remove(ctx, params.userId),
  }),
  route({
    method: 'post',
    path: '/team/invitations',
    summary: 'Invite someone by email (admins); the token is also emailed',
    tag,
    access: 'team:manage',
    status: 201,
    schemas: { body: invitationBody },
    response: invitationCreated,
    handler: async ({ ctx, body }) => team.invitations.invite(ctx, body),
  }),
  route({
    method: 'get',
    path: '/team/invitations',
    summary: 'Invitations that can still be accepted (admins)',
    tag,
    access: 'team:manage',
    response: z.object({ items: z.array(pendingInvitation) }),
    handler: async ({ ctx }) => ({ items: await team.invitations.list(ctx.clinicId) }),
  }),
  route({
    method: 'delete',
    path: '/team/invitations/:id',
    summary: 'Withdraw a pending invitation (admins); its link answers 410 invitation_revoked',
    tag,
    access: 'team:manage',
    schemas: { params: uuidParam },
    handler: async ({ ctx, params }) => team.invitations.revoke(ctx, params.id),
  }),
  route({
    method: 'post',
    path: '/team/invitations/:token/accept',
    summary: 'Accept an invitation sent to the signed-in user’s email: the clinic joins their memberships (the active clinic does not change)',
    tag,
    access: 'authenticated',
    userOnly: true,
    schemas: { params: tokenParam, body: invitationAcceptAsMember },
    response: meResponse,
    handler: async ({ ctx, params }) => {
      const userId = actorUserId(ctx) as string;
      await team.invitations.acceptAsMember(ctx, userId, params.token);
      return auth.me(userId, ctx.clinicId);
    },
  }),
  publicRoute({
    method: 'get',
    path: '/public/invitations/:token',
    summary: 'What an invitation is for (no login)',
    tag,
    rateLimit: 'public',
    schemas: { params: tokenParam },
    response: invitationPublic,
    handler: async ({ params }) => team.invitations.describe(params.token),
  }),
  publicRoute({
    method: 'post',
    path: '/public/invitations/:token/accept',
    session: true,
    summary:
      'Accept an invitation with a new account and sign in; an email that already has an account gets 409 account_exists (sign in and use POST /team/invitations/:token/accept)',
    tag,
    // It creates an account: the same limit as registration.
    rateLimit: 'register',
    schemas: { params: tokenParam, body: invitationAccept },
    response: meResponse,
    handler: async ({ params, body, ctx, req, res }) => {
      const who = await team.invitations.acceptAsNewAccount(params.token, body, ctx);
      await sessions.start(req, res, who);
      return auth.me(who.userId, who.clinicId);
    },
  }),
  route({
    method: 'get',
    path: '/professionals',
    summary: 'Members who see patients, with time zone and working hours',
    tag,
    access: 'team:read',
    response: z.object({ items: z.array(professional) }),
    handler: async ({ ctx }) => ({ items: await team.professionals(ctx.clinicId) }),
  }),
];
