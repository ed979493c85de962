import { z } from 'zod';
import { invitationAccept, invitationBody, invitationCreated, invitationPublic, professional, teamMember, teamPatch } from '../../../shared/api/team.js';
import { meResponse } from '../../../shared/api/auth.js';
import { publicRoute, route } from '../../http/route.js';
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
    summary: 'Change a member’s role, professional flag, status, time zone or hours (admins)',
    tag,
    access: 'team:manage',
    schemas: { params: userParam, body: teamPatch },
    response: teamMember,
    handler: async ({ ctx, params, body }) => team.update(ctx, params.userId, body),
  }),
  route({
    method: 'delete',
    path: '/team/:userId',
    summary: 'Remove a member from the clinic (admins)',
    tag,
    access: 'team:manage',
    schemas: { params: userParam },
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
    handler: async ({ ctx, body }) => team.invite(ctx, body),
  }),
  publicRoute({
    method: 'get',
    path: '/public/invitations/:token',
    summary: 'What an invitation is for (no login)',
    tag,
    rateLimit: 'public',
    schemas: { params: tokenParam },
    response: invitationPublic,
    handler: async ({ params }) => team.describeInvitation(params.token),
  }),
  publicRoute({
    method: 'post',
    path: '/public/invitations/:token/accept',
    session: true,
    summary: 'Accept an invitation: creates or links the account and signs in',
    tag,
    rateLimit: 'public',
    schemas: { params: tokenParam, body: invitationAccept },
    response: meResponse,
    handler: async ({ params, body, ctx, req, res }) => {
      const who = await team.acceptInvitation(params.token, body, { ip: ctx.ip, userAgent: ctx.userAgent });
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
