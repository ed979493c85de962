import { and, asc, eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { DEFAULT_WORKING_HOURS } from '../../../shared/api/common.js';
import type { invitationBody, teamPatch } from '../../../shared/api/team.js';
import { clinics, invitations, memberships, users } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { accountCacheGroup } from '../../http/auth.js';
import { AppError, conflict, notFound } from '../../http/errors.js';
import { hashToken, randomToken } from '../../lib/tokens.js';
import type { AuditService } from '../audit/service.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import type { SignedIn } from '../auth/service.js';

const INVITATION_TTL_MS = 7 * 24 * 3600_000;

const memberColumns = {
  userId: memberships.userId,
  name: users.name,
  email: users.email,
  role: memberships.role,
  isProfessional: memberships.isProfessional,
  active: memberships.active,
  timezone: memberships.timezone,
  workingHours: memberships.workingHours,
};

export class TeamService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  private get db() {
    return this.infra.db;
  }

  list(clinicId: string) {
    return this.db
      .select(memberColumns)
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(eq(memberships.clinicId, clinicId))
      .orderBy(asc(users.name));
  }

  /** Active professionals with their effective time zone and hours (own, else the clinic's, else the default). */
  async professionals(clinicId: string) {
    const rows = await this.db
      .select({ ...memberColumns, clinicTimezone: clinics.timezone, clinicHours: clinics.workingHours })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .innerJoin(clinics, eq(clinics.id, memberships.clinicId))
      .where(and(eq(memberships.clinicId, clinicId), eq(memberships.isProfessional, true), eq(memberships.active, true)))
      .orderBy(asc(users.name));
    return rows.map((r) => ({
      userId: r.userId,
      name: r.name,
      email: r.email,
      timezone: r.timezone ?? r.clinicTimezone,
      workingHours: r.workingHours ?? r.clinicHours ?? DEFAULT_WORKING_HOURS,
    }));
  }

  /** One professional of this clinic, or 404 (also for another clinic's). */
  async professional(clinicId: string, userId: string) {
    const found = (await this.professionals(clinicId)).find((p) => p.userId === userId);
    if (!found) throw notFound('Professional');
    return found;
  }

  async update(ctx: TenantContext, userId: string, patch: z.infer<typeof teamPatch>) {
    const member = await this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(memberships)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(memberships.clinicId, ctx.clinicId), eq(memberships.userId, userId)))
        .returning({ userId: memberships.userId });
      if (!row) throw notFound('Team member');
      await this.assertAnAdminRemains(tx, ctx.clinicId);
      await this.audit.record(ctx, { action: 'team.updated', entityType: 'user', entityId: userId, details: { ...patch, workingHours: undefined } }, tx);
      const [member] = await tx
        .select(memberColumns)
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.clinicId, ctx.clinicId), eq(memberships.userId, userId)));
      if (member) await this.infra.events.publish(tx, 'member.changed', { userId, change: 'updated', role: member.role, isProfessional: member.isProfessional, active: member.active }, ctx);
      return member;
    });
    if (!member) throw notFound('Team member');
    await this.forgetAccount(userId);
    return member;
  }

  async remove(ctx: TenantContext, userId: string) {
    await this.db.transaction(async (tx) => {
      const [row] = await tx
        .delete(memberships)
        .where(and(eq(memberships.clinicId, ctx.clinicId), eq(memberships.userId, userId)))
        .returning({ id: memberships.id });
      if (!row) throw notFound('Team member');
      await this.assertAnAdminRemains(tx, ctx.clinicId);
      await this.audit.record(ctx, { action: 'team.removed', entityType: 'user', entityId: userId }, tx);
      await this.infra.events.publish(tx, 'member.changed', { userId, change: 'removed', role: null, isProfessional: null, active: false }, ctx);
    });
    await this.forgetAccount(userId);
  }

  /**
   * Synchronous, not a subscriber: the cached account carries the role, and a demoted or removed
   * member's very next request must already be judged by the new one.
   */
  private async forgetAccount(userId: string) {
    await this.infra.cache.invalidateGroup(accountCacheGroup(userId));
  }

  /** A clinic must keep at least one active admin; the change is rolled back otherwise. */
  private async assertAnAdminRemains(tx: Tx, clinicId: string) {
    const [row] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(memberships)
      .where(and(eq(memberships.clinicId, clinicId), eq(memberships.role, 'admin'), eq(memberships.active, true)));
    if (!row || row.n === 0) throw conflict('last_admin', 'The clinic must keep at least one active admin');
  }

  async invite(ctx: TenantContext, input: z.infer<typeof invitationBody>) {
    const [member] = await this.db
      .select({ id: memberships.id })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .where(and(eq(memberships.clinicId, ctx.clinicId), sql`lower(${users.email}) = ${input.email}`));
    if (member) throw conflict('already_member', 'This person is already a member of the clinic');
    const token = randomToken();
    const expiresAt = new Date(Date.now() + INVITATION_TTL_MS);
    const [clinic] = await this.db.select({ name: clinics.name }).from(clinics).where(eq(clinics.id, ctx.clinicId));
    const invitation = await this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(invitations)
        .values({
          clinicId: ctx.clinicId,
          email: input.email,
          name: input.name,
          role: input.role,
          isProfessional: input.isProfessional ?? input.role === 'professional',
          tokenHash: hashToken(token),
          invitedBy: ctx.actor.type === 'user' ? ctx.actor.userId : null,
          expiresAt,
        })
        .returning({ id: invitations.id });
      if (!row) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'team.invited', entityType: 'invitation', entityId: row.id, details: { role: input.role } }, tx);
      return row;
    });
    const link = `${this.infra.config.publicAppUrl}/convite?token=${encodeURIComponent(token)}`;
    await this.infra.queue.add('mail.send', {
      clinicId: ctx.clinicId,
      to: input.email,
      subject: `Convite para a equipe de ${clinic?.name ?? 'uma clínica'} no Operabase`,
      text: `Olá, ${input.name}.\n\nVocê foi convidado(a) para a equipe de ${clinic?.name ?? 'uma clínica'} no Operabase. Aceite o convite em até 7 dias:\n\n${link}`,
    });
    return { id: invitation.id, token, expiresAt };
  }

  private async openInvitation(token: string) {
    const [row] = await this.db
      .select({ invitation: invitations, clinicName: clinics.name })
      .from(invitations)
      .innerJoin(clinics, eq(clinics.id, invitations.clinicId))
      .where(eq(invitations.tokenHash, hashToken(token)));
    if (!row) throw notFound('Invitation');
    if (row.invitation.acceptedAt || row.invitation.expiresAt < new Date()) throw new AppError(410, 'invitation_expired', 'This invitation has expired or was already used');
    return row;
  }

  async describeInvitation(token: string) {
    const { invitation, clinicName } = await this.openInvitation(token);
    const [user] = await this.db.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = ${invitation.email}`);
    return { clinicName, email: invitation.email, name: invitation.name, role: invitation.role, expiresAt: invitation.expiresAt, userExists: Boolean(user) };
  }

  /** New users choose a password; existing users prove theirs before the clinic is linked to the account. */
  async acceptInvitation(token: string, input: { name?: string | undefined; password: string }, info: { ip?: string; userAgent?: string }): Promise<SignedIn> {
    const { invitation } = await this.openInvitation(token);
    const [existing] = await this.db.select().from(users).where(sql`lower(${users.email}) = ${invitation.email}`);
    if (existing && !(await verifyPassword(existing.passwordHash, input.password))) {
      throw new AppError(401, 'invalid_credentials', 'This email already has an account: enter its current password');
    }
    const passwordHash = existing ? null : await hashPassword(input.password);
    const userId = await this.db.transaction(async (tx) => {
      const [claimed] = await tx
        .update(invitations)
        .set({ acceptedAt: new Date() })
        .where(and(eq(invitations.id, invitation.id), sql`${invitations.acceptedAt} is null`))
        .returning({ id: invitations.id });
      if (!claimed) throw new AppError(410, 'invitation_expired', 'This invitation has expired or was already used');
      let id = existing?.id;
      if (!id) {
        const [created] = await tx
          .insert(users)
          .values({ name: input.name ?? invitation.name, email: invitation.email, passwordHash: passwordHash as string })
          .returning({ id: users.id });
        id = created?.id as string;
      }
      await tx
        .insert(memberships)
        .values({ clinicId: invitation.clinicId, userId: id, role: invitation.role, isProfessional: invitation.isProfessional })
        .onConflictDoUpdate({
          target: [memberships.clinicId, memberships.userId],
          set: { role: invitation.role, isProfessional: invitation.isProfessional, active: true, updatedAt: new Date() },
        });
      const actor = { type: 'user', userId: id, role: invitation.role, isProfessional: invitation.isProfessional } as const;
      await this.audit.record({ clinicId: invitation.clinicId, actor, ...info }, { action: 'team.joined', entityType: 'user', entityId: id, details: { invitationId: invitation.id } }, tx);
      await this.infra.events.publish(tx, 'member.changed', { userId: id, change: 'joined', role: invitation.role, isProfessional: invitation.isProfessional, active: true }, { clinicId: invitation.clinicId, actor });
      return id;
    });
    await this.forgetAccount(userId);
    return { userId, clinicId: invitation.clinicId };
  }
}
