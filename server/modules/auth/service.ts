import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { clinics, memberships, passwordResetTokens, users } from '../../../shared/schema/index.js';
import type { MeResponse } from '../../../shared/api/auth.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { defineJob, type AnyJobDef } from '../../infra/queue.js';
import type { TenantContext } from '../../http/context.js';
import { accountCacheGroup, loadAccount } from '../../http/auth.js';
import type { Account } from '../../http/context.js';
import { AppError, conflict, notFound } from '../../lib/errors.js';
import { hashToken, randomToken } from '../../lib/tokens.js';
import type { AuditScope, AuditService } from '../audit/service.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { enqueueMail } from '../platform/jobs.js';

const RESET_TTL_MS = 60 * 60_000;
export const PASSWORD_RESET_JOB = 'auth.password_reset';

declare module '../../infra/queue.js' {
  interface JobMap {
    /** The email asking for a reset, sealed with SecretBox (failed jobs rest in Redis for days). */
    'auth.password_reset': { sealedEmail: string };
  }
}

export interface SignedIn {
  userId: string;
  clinicId: string;
}

export type RequestInfo = Pick<AuditScope, 'ip' | 'userAgent'>;

export class AuthService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  private get db() {
    return this.infra.db;
  }

  async register(input: { clinicName: string; name: string; email: string; password: string }, info: RequestInfo): Promise<SignedIn> {
    const passwordHash = await hashPassword(input.password);
    return this.db.transaction(async (tx) => {
      const [existing] = await tx.select({ id: users.id }).from(users).where(sql`lower(${users.email}) = ${input.email}`);
      if (existing) throw conflict('email_taken', 'An account with this email already exists; sign in instead');
      const [clinic] = await tx.insert(clinics).values({ name: input.clinicName }).returning({ id: clinics.id });
      const [user] = await tx.insert(users).values({ name: input.name, email: input.email, passwordHash }).returning({ id: users.id });
      if (!clinic || !user) throw new Error('insert returned nothing');
      await new ClinicData(clinic.id, tx).insert(memberships, { userId: user.id, role: 'admin' });
      const actor = { type: 'user', userId: user.id, role: 'admin', isProfessional: false } as const;
      await this.audit.record({ clinicId: clinic.id, actor, ip: info.ip, userAgent: info.userAgent }, { action: 'clinic.registered', entityType: 'clinic', entityId: clinic.id }, tx);
      return { userId: user.id, clinicId: clinic.id };
    });
  }

  async login(email: string, password: string, info: RequestInfo): Promise<SignedIn> {
    const [user] = await this.db.select().from(users).where(sql`lower(${users.email}) = ${email}`);
    const ok = await verifyPassword(user?.passwordHash, password);
    if (!user || !ok) {
      if (user) this.infra.log.info({ userId: user.id }, 'login failed: wrong password');
      throw new AppError(401, 'invalid_credentials', 'Email or password is incorrect');
    }
    return this.signInAs(user.id, info);
  }

  /** A user whose credentials checked out signs in to their first active clinic, or `clinicId` if they are active in it (audited). */
  async signInAs(userId: string, info: RequestInfo, details?: Record<string, unknown>, clinicId?: string): Promise<SignedIn> {
    const active = await this.activeMemberships(userId);
    const membership = active.find((m) => m.clinicId === clinicId) ?? active[0];
    if (!membership) throw new AppError(403, 'no_active_membership', 'This account has no active clinic');
    const actor = { type: 'user', userId, role: membership.role, isProfessional: membership.isProfessional } as const;
    await this.audit.record({ clinicId: membership.clinicId, actor, ip: info.ip, userAgent: info.userAgent }, { action: 'auth.login', entityType: 'user', entityId: userId, details });
    return { userId, clinicId: membership.clinicId };
  }

  /** Across clinics on purpose: a user signs in to the first clinic they belong to. */
  private activeMemberships(userId: string) {
    return this.infra.systemDb
      .select({
        clinicId: memberships.clinicId,
        clinicName: clinics.name,
        role: memberships.role,
        isProfessional: memberships.isProfessional,
      })
      .from(memberships)
      .innerJoin(clinics, eq(clinics.id, memberships.clinicId))
      .where(and(eq(memberships.userId, userId), eq(memberships.active, true)))
      .orderBy(asc(memberships.createdAt));
  }

  /**
   * Answers every page load of the web app from the cached account (see loadAccount): the one
   * authentication already read when the route passes it, else read here.
   */
  async me(userId: string, clinicId: string, known?: Account): Promise<MeResponse> {
    const account = known ?? (await loadAccount(this.infra.systemDb, this.infra.cache, userId));
    const current = account?.memberships.find((m) => m.clinicId === clinicId);
    if (!account || !current) throw notFound('User');
    return {
      user: account.user,
      clinic: { id: current.clinicId, name: current.clinicName, timezone: current.clinicTimezone },
      role: current.role,
      isProfessional: current.isProfessional,
      memberships: account.memberships.map(({ clinicId: id, clinicName, role, isProfessional }) => ({ clinicId: id, clinicName, role, isProfessional })),
    };
  }

  /** A clinic's name or zone changed: every member's cached account shows it. */
  async forgetClinic(clinicId: string): Promise<void> {
    const members = await new ClinicData(clinicId, this.db).pick({ userId: memberships.userId }, memberships);
    await Promise.all(members.map((m) => this.infra.cache.invalidateGroup(accountCacheGroup(m.userId))));
  }

  /** The clinic to switch to, if the user is an active member of it; otherwise 404. */
  async switchClinic(ctx: TenantContext, userId: string, clinicId: string): Promise<void> {
    const [membership] = await new ClinicData(clinicId, this.db).pick({ id: memberships.id }, memberships, eq(memberships.userId, userId), eq(memberships.active, true));
    if (!membership) throw notFound('Clinic');
    await this.audit.record(ctx, { action: 'auth.switch_clinic', entityType: 'clinic', entityId: clinicId, details: { from: ctx.clinicId } });
  }

  async changePassword(ctx: TenantContext, userId: string, currentPassword: string, newPassword: string): Promise<void> {
    const [user] = await this.db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, userId));
    if (!user || !(await verifyPassword(user.hash, currentPassword))) {
      throw new AppError(400, 'invalid_current_password', 'The current password is incorrect');
    }
    const now = new Date();
    await this.db.update(users).set({ passwordHash: await hashPassword(newPassword), sessionsValidAfter: now, updatedAt: now }).where(eq(users.id, userId));
    await this.audit.record(ctx, { action: 'auth.password_changed', entityType: 'user', entityId: userId });
    await this.forgetSessions(userId);
  }

  /** The cached account carries the sessions' cut-off: dropping it ends other sessions at once. */
  private async forgetSessions(userId: string) {
    await this.infra.cache.invalidateGroup(accountCacheGroup(userId));
    this.infra.realtime.endUser(userId);
  }

  /**
   * Always the same work whether or not the email exists: one job is queued and nothing is read.
   * The job looks the account up and mails the link, so neither the answer nor its timing says
   * which emails have accounts.
   */
  async requestPasswordReset(email: string): Promise<void> {
    await this.infra.queue.add(PASSWORD_RESET_JOB, { sealedEmail: this.infra.secrets.seal(email.toLowerCase()) });
  }

  /** The job behind a reset request: a link for a known email, nothing for an unknown one. */
  async sendPasswordReset(email: string): Promise<void> {
    const [user] = await this.db.select({ id: users.id, name: users.name, email: users.email }).from(users).where(sql`lower(${users.email}) = ${email}`);
    if (!user) return;
    const token = randomToken();
    await this.db.insert(passwordResetTokens).values({ userId: user.id, tokenHash: hashToken(token), expiresAt: new Date(Date.now() + RESET_TTL_MS) });
    const link = `${this.infra.config.publicAppUrl}/redefinir-senha?token=${encodeURIComponent(token)}`;
    await enqueueMail(this.infra, {
      to: user.email,
      subject: 'Operabase: redefinição de senha',
      text: `Olá, ${user.name}.\n\nRecebemos um pedido para redefinir a sua senha. Use o link abaixo em até 1 hora:\n\n${link}\n\nSe não foi você, ignore esta mensagem: sua senha continua a mesma.`,
    });
  }

  jobs(): AnyJobDef[] {
    return [defineJob({ name: PASSWORD_RESET_JOB, queue: 'mail', handler: (data) => this.sendPasswordReset(this.infra.secrets.open(data.sealedEmail)) })];
  }

  async confirmPasswordReset(token: string, newPassword: string, info: RequestInfo): Promise<void> {
    const passwordHash = await hashPassword(newPassword);
    // `systemTx`: a user's reset reads their memberships across clinics.
    const userId = await this.infra.systemDb.transaction(async (systemTx) => {
      const [row] = await systemTx
        .update(passwordResetTokens)
        .set({ usedAt: new Date() })
        .where(and(eq(passwordResetTokens.tokenHash, hashToken(token)), isNull(passwordResetTokens.usedAt), gt(passwordResetTokens.expiresAt, new Date())))
        .returning({ userId: passwordResetTokens.userId });
      if (!row) throw new AppError(400, 'invalid_token', 'This link is invalid or has expired');
      const now = new Date();
      await systemTx.update(users).set({ passwordHash, sessionsValidAfter: now, updatedAt: now }).where(eq(users.id, row.userId));
      // The reset is recorded in one of the user's clinics' audit log.
      const [membership] = await systemTx.select({ clinicId: memberships.clinicId }).from(memberships).where(eq(memberships.userId, row.userId));
      if (membership) {
        await this.audit.record({ clinicId: membership.clinicId, actor: null, ip: info.ip, userAgent: info.userAgent }, { action: 'auth.password_reset', entityType: 'user', entityId: row.userId }, systemTx);
      }
      return row.userId;
    });
    await this.forgetSessions(userId);
  }
}
