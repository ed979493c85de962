import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { invitationBody } from '../../../shared/api/team.js';
import { clinics, invitations, memberships, users } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { BaseContext, TenantContext } from '../../http/context.js';
import { AppError, conflict, notFound } from '../../lib/errors.js';
import { UNIQUE_VIOLATION, pgErrorCode } from '../../lib/pg-errors.js';
import { hashToken, randomToken } from '../../lib/tokens.js';
import type { AuditService } from '../audit/service.js';
import { hashPassword } from '../auth/passwords.js';
import type { SignedIn } from '../auth/service.js';
import { enqueueMail } from '../platform/jobs.js';

const INVITATION_TTL_MS = 7 * 24 * 3600_000;

type Invitation = typeof invitations.$inferSelect;

/** An email its provider has verified (Google), and the name it gives. */
export interface VerifiedIdentity {
  email: string;
  name?: string | undefined;
}

/** Told after a user joins a clinic: the team service drops their cached account at once. */
export type JoinedListener = (userId: string) => Promise<void>;

const sameEmail = (column: typeof users.email | typeof invitations.email, email: string) => sql`lower(${column}) = ${email.toLowerCase()}`;
const pending = (now = new Date()) => and(isNull(invitations.acceptedAt), isNull(invitations.revokedAt), gt(invitations.expiresAt, now));

const accountExists = () =>
  new AppError(409, 'account_exists', 'This email already has an account: sign in with it and accept the invitation from that account');

/**
 * Invitations. The public link only ever creates a new account; an existing account joins from
 * its own signed-in session, so a token never lets anyone guess or use another account's password.
 */
export class InvitationService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly joined: JoinedListener,
  ) {}

  private get db() {
    return this.infra.db;
  }

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.db);
  }

  async invite(ctx: TenantContext, input: z.infer<typeof invitationBody>) {
    const [member] = await this.data(ctx.clinicId)
      .pick({ id: memberships.id }, memberships, sameEmail(users.email, input.email))
      .innerJoin(users, eq(users.id, memberships.userId));
    if (member) throw conflict('already_member', 'This person is already a member of the clinic');
    const token = randomToken();
    const expiresAt = new Date(Date.now() + INVITATION_TTL_MS);
    const [clinic] = await this.db.select({ name: clinics.name }).from(clinics).where(eq(clinics.id, ctx.clinicId));
    const invitation = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data
        .insert(invitations, {
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
    await enqueueMail(
      this.infra,
      {
        to: input.email,
      subject: `Convite para a equipe de ${clinic?.name ?? 'uma clínica'} no Operabase`,
      text: `Olá, ${input.name}.\n\nVocê foi convidado(a) para a equipe de ${clinic?.name ?? 'uma clínica'} no Operabase. Aceite o convite em até 7 dias:\n\n${link}\n\nSe você já tem uma conta no Operabase, entre com ela antes de abrir o link.`,
      },
      ctx,
    );
    return { id: invitation.id, token, expiresAt };
  }

  /** Invitations that can still be accepted, newest first; tokens are never shown again. */
  list(clinicId: string) {
    return this.data(clinicId)
      .pick(
        {
          id: invitations.id,
          email: invitations.email,
          name: invitations.name,
          role: invitations.role,
          isProfessional: invitations.isProfessional,
          invitedBy: invitations.invitedBy,
          createdAt: invitations.createdAt,
          expiresAt: invitations.expiresAt,
        },
        invitations,
        pending(),
      )
      .orderBy(desc(invitations.createdAt));
  }

  async revoke(ctx: TenantContext, id: string) {
    await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const [row] = await data.update(invitations, { revokedAt: new Date() }, eq(invitations.id, id), pending()).returning({ id: invitations.id });
      if (!row) throw notFound('Invitation');
      await this.audit.record(ctx, { action: 'team.invitation_revoked', entityType: 'invitation', entityId: id }, tx);
    });
  }

  /**
   * Inside the team change that takes a member's admin rights or membership away: the pending
   * invitations they created, and those addressed to them (which would bring them back), stop working.
   */
  async revokeOnLoss(tx: Tx, clinicId: string, member: { userId: string; email: string }, lostMembership: boolean): Promise<string[]> {
    const addressedToThem = lostMembership ? sameEmail(invitations.email, member.email) : undefined;
    const rows = await new ClinicData(clinicId, tx)
      .update(invitations, { revokedAt: new Date() }, pending(), or(eq(invitations.invitedBy, member.userId), addressedToThem))
      .returning({ id: invitations.id });
    return rows.map((r) => r.id);
  }

  /** The token finds the invitation, and so its clinic: a lookup across clinics on purpose. */
  private async open(token: string) {
    const [row] = await this.infra.systemDb
      .select({ invitation: invitations, clinicName: clinics.name })
      .from(invitations)
      .innerJoin(clinics, eq(clinics.id, invitations.clinicId))
      .where(eq(invitations.tokenHash, hashToken(token)));
    if (!row) throw notFound('Invitation');
    if (row.invitation.revokedAt) throw new AppError(410, 'invitation_revoked', 'This invitation was withdrawn by the clinic');
    if (row.invitation.acceptedAt || row.invitation.expiresAt < new Date()) throw new AppError(410, 'invitation_expired', 'This invitation has expired or was already used');
    return row;
  }

  /** What the link is for. Whether the email has an account is not said: the token holder may be the inviter. */
  async describe(token: string) {
    const { invitation, clinicName } = await this.open(token);
    return { clinicName, email: invitation.email, name: invitation.name, role: invitation.role, expiresAt: invitation.expiresAt };
  }

  /** The public link: a new account with the chosen password. An email that has an account gets 409 `account_exists`. */
  async acceptAsNewAccount(token: string, input: { name?: string | undefined; password: string }, info: BaseContext): Promise<SignedIn> {
    const { invitation } = await this.open(token);
    const passwordHash = await hashPassword(input.password);
    try {
      const userId = await this.data(invitation.clinicId).transaction(async (data, tx) => {
        const [existing] = await tx.select({ id: users.id }).from(users).where(sameEmail(users.email, invitation.email));
        if (existing) throw accountExists();
        await this.claim(data, invitation);
        const [created] = await tx
          .insert(users)
          .values({ name: input.name ?? invitation.name, email: invitation.email, passwordHash })
          .returning({ id: users.id });
        if (!created) throw new Error('insert returned nothing');
        await this.join(data, tx, invitation, created.id, info);
        return created.id;
      });
      await this.joined(userId);
      return { userId, clinicId: invitation.clinicId };
    } catch (err) {
      // An account registered with this email at the same moment.
      if (pgErrorCode(err) === UNIQUE_VIOLATION) throw accountExists();
      throw err;
    }
  }

  /**
   * A signed-in user accepts an invitation sent to their own email: the clinic joins their
   * memberships; the active clinic stays as it is (switch with `POST /auth/switch-clinic`).
   */
  async acceptAsMember(ctx: TenantContext, userId: string, token: string): Promise<void> {
    const { invitation } = await this.open(token);
    const [user] = await this.db.select({ email: users.email }).from(users).where(eq(users.id, userId));
    // Answered as for a missing invitation: only the invitee's own account may use it.
    if (!user || user.email.toLowerCase() !== invitation.email.toLowerCase()) {
      throw new AppError(404, 'invitation_other_account', 'This invitation was sent to another email address: sign in with that account');
    }
    // The invitation's clinic, which the token named; not the caller's active one (ctx.clinicId).
    await this.data(invitation.clinicId).transaction(async (data, tx) => {
      const [member] = await data.pick({ id: memberships.id }, memberships, eq(memberships.userId, userId));
      // A deactivated member is brought back by an admin (PATCH /team/:userId), never by an old link.
      if (member) throw conflict('already_member', 'You are already a member of this clinic');
      await this.claim(data, invitation);
      await this.join(data, tx, invitation, userId, ctx);
    });
    await this.joined(userId);
  }

  /**
   * Sign in with Google, the email verified by Google: the invitation named by the token must be
   * for that email. An account that exists joins the clinic (409 `already_member` if it is a
   * member); otherwise one is created, with no usable password (a reset sets one).
   */
  async acceptWithVerifiedEmail(token: string, identity: VerifiedIdentity, info: BaseContext): Promise<SignedIn> {
    const { invitation } = await this.open(token);
    if (invitation.email.toLowerCase() !== identity.email.toLowerCase()) {
      throw new AppError(404, 'invitation_other_account', 'This invitation was sent to another email address: sign in with that account');
    }
    return this.acceptVerified(invitation, identity, info);
  }

  /** Sign in with Google of an email that has no account: its newest pending invitation, if any. */
  async acceptPendingFor(identity: VerifiedIdentity, info: BaseContext): Promise<SignedIn | undefined> {
    // Across clinics on purpose: the verified email is what finds the invitation, as its emailed token would.
    const [invitation] = await this.infra.systemDb.select().from(invitations).where(and(sameEmail(invitations.email, identity.email), pending())).orderBy(desc(invitations.createdAt)).limit(1);
    return invitation ? this.acceptVerified(invitation, identity, info) : undefined;
  }

  private async acceptVerified(invitation: Invitation, identity: VerifiedIdentity, info: BaseContext): Promise<SignedIn> {
    const passwordHash = await hashPassword(randomToken());
    try {
      const userId = await this.data(invitation.clinicId).transaction(async (data, tx) => {
        const [existing] = await tx.select({ id: users.id }).from(users).where(sameEmail(users.email, invitation.email));
        if (existing) {
          const [member] = await data.pick({ id: memberships.id }, memberships, eq(memberships.userId, existing.id));
          if (member) throw conflict('already_member', 'You are already a member of this clinic');
        }
        await this.claim(data, invitation);
        const id = existing?.id ?? (await tx.insert(users).values({ name: identity.name ?? invitation.name, email: invitation.email, passwordHash }).returning({ id: users.id }))[0]?.id;
        if (!id) throw new Error('insert returned nothing');
        await this.join(data, tx, invitation, id, info);
        return id;
      });
      await this.joined(userId);
      return { userId, clinicId: invitation.clinicId };
    } catch (err) {
      if (pgErrorCode(err) === UNIQUE_VIOLATION) throw conflict('account_exists', 'An account with this email was created at the same moment; sign in again');
      throw err;
    }
  }

  /** Marks the invitation used; a second acceptance racing this one gets 410. */
  private async claim(data: ClinicData, invitation: Invitation) {
    const [claimed] = await data.update(invitations, { acceptedAt: new Date() }, eq(invitations.id, invitation.id), pending()).returning({ id: invitations.id });
    if (!claimed) throw new AppError(410, 'invitation_expired', 'This invitation has expired or was already used');
  }

  private async join(data: ClinicData, tx: Tx, invitation: Invitation, userId: string, info: BaseContext) {
    await data.insert(memberships, { userId, role: invitation.role, isProfessional: invitation.isProfessional });
    const actor = { type: 'user', userId, role: invitation.role, isProfessional: invitation.isProfessional } as const;
    await this.audit.record(
      { clinicId: invitation.clinicId, actor, ip: info.ip, userAgent: info.userAgent },
      { action: 'team.joined', entityType: 'user', entityId: userId, details: { invitationId: invitation.id } },
      tx,
    );
    await this.infra.events.publish(tx, 'member.changed', { userId, change: 'joined', role: invitation.role, isProfessional: invitation.isProfessional, active: true }, { clinicId: invitation.clinicId, actor, requestId: info.requestId });
  }
}
