import { asc, eq, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { DEFAULT_WORKING_HOURS } from '../../../shared/api/common.js';
import type { teamPatch } from '../../../shared/api/team.js';
import { clinics, memberships, users } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { accountCacheGroup } from '../../http/auth.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { ApiKeyService, RevokedKey } from '../api-keys/service.js';
import type { AuditService } from '../audit/service.js';
import { InvitationService } from './invitations.js';

interface Revoked {
  invitationIds: string[];
  apiKeys: RevokedKey[];
}
const NOTHING_REVOKED: Revoked = { invitationIds: [], apiKeys: [] };
const revokedCounts = (r: Revoked) => ({ revokedInvitations: r.invitationIds.length, revokedApiKeys: r.apiKeys.length });
const revokedDetails = (r: Revoked) => ({ revokedInvitations: r.invitationIds, revokedApiKeys: r.apiKeys.map((k) => k.id) });
const isActiveAdmin = (m: { role: string; active: boolean }) => m.role === 'admin' && m.active;

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
  readonly invitations: InvitationService;

  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly apiKeys: ApiKeyService,
  ) {
    this.invitations = new InvitationService(infra, audit, (userId) => this.forgetAccount(userId));
  }

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  list(clinicId: string) {
    return this.data(clinicId).pick(memberColumns, memberships).innerJoin(users, eq(users.id, memberships.userId)).orderBy(asc(users.name));
  }

  /** Active professionals with their effective time zone and hours (own, else the clinic's, else the default). */
  async professionals(clinicId: string) {
    const rows = await this.data(clinicId)
      .pick({ ...memberColumns, clinicTimezone: clinics.timezone, clinicHours: clinics.workingHours }, memberships, eq(memberships.isProfessional, true), eq(memberships.active, true))
      .innerJoin(users, eq(users.id, memberships.userId))
      .innerJoin(clinics, eq(clinics.id, memberships.clinicId))
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
    const { member, revoked } = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const before = await this.lockedMember(data, tx, userId);
      await data.update(memberships, { ...patch, updatedAt: new Date() }, eq(memberships.userId, userId));
      await this.assertAnAdminRemains(data);
      const [after] = await this.members(data, userId);
      if (!after) throw notFound('Team member');
      const lostMembership = before.active && !after.active;
      const lostAdmin = isActiveAdmin(before) && !isActiveAdmin(after);
      const revoked = lostMembership || lostAdmin ? await this.revokeWhatTheyCreated(tx, ctx.clinicId, before, lostMembership) : NOTHING_REVOKED;
      await this.audit.record(
        ctx,
        { action: 'team.updated', entityType: 'user', entityId: userId, details: { ...patch, workingHours: undefined, ...revokedDetails(revoked) } },
        tx,
      );
      await this.infra.events.publish(tx, 'member.changed', { userId, change: 'updated', role: after.role, isProfessional: after.isProfessional, active: after.active }, ctx);
      return { member: after, revoked };
    });
    await this.apiKeys.forget(revoked.apiKeys);
    await this.forgetAccount(userId);
    if (patch.role !== undefined || patch.isProfessional !== undefined || patch.active !== undefined) this.infra.realtime.endUser(userId, ctx.clinicId);
    return { ...member, ...revokedCounts(revoked) };
  }

  async remove(ctx: TenantContext, userId: string) {
    const revoked = await this.data(ctx.clinicId).transaction(async (data, tx) => {
      const before = await this.lockedMember(data, tx, userId);
      await data.delete(memberships, eq(memberships.userId, userId));
      await this.assertAnAdminRemains(data);
      const revoked = await this.revokeWhatTheyCreated(tx, ctx.clinicId, before, true);
      await this.audit.record(ctx, { action: 'team.removed', entityType: 'user', entityId: userId, details: revokedDetails(revoked) }, tx);
      await this.infra.events.publish(tx, 'member.changed', { userId, change: 'removed', role: null, isProfessional: null, active: false }, ctx);
      return revoked;
    });
    await this.apiKeys.forget(revoked.apiKeys);
    await this.forgetAccount(userId);
    this.infra.realtime.endUser(userId, ctx.clinicId);
    return revokedCounts(revoked);
  }

  private members(data: ClinicData, userId: string) {
    return data.pick(memberColumns, memberships, eq(memberships.userId, userId)).innerJoin(users, eq(users.id, memberships.userId));
  }

  /**
   * Team changes of one clinic run one at a time: the clinic row is locked first (NO KEY UPDATE,
   * so inserts that reference the clinic are not blocked). Two admins demoting each other at once
   * would otherwise each see the other still admin and both commit.
   */
  private async lockedMember(data: ClinicData, tx: Tx, userId: string) {
    await tx.select({ id: clinics.id }).from(clinics).where(eq(clinics.id, data.clinicId)).for('no key update');
    const [member] = await this.members(data, userId);
    if (!member) throw notFound('Team member');
    return member;
  }

  /** A member who loses admin rights or the membership loses what they created with them. */
  private async revokeWhatTheyCreated(tx: Tx, clinicId: string, member: { userId: string; email: string }, lostMembership: boolean): Promise<Revoked> {
    const invitationIds = await this.invitations.revokeOnLoss(tx, clinicId, member, lostMembership);
    const apiKeys = await this.apiKeys.revokeCreatedBy(tx, clinicId, member.userId);
    return { invitationIds, apiKeys };
  }

  /**
   * Synchronous, not a subscriber: the cached account carries the role, and a demoted or removed
   * member's very next request must already be judged by the new one.
   */
  private async forgetAccount(userId: string) {
    await this.infra.cache.invalidateGroup(accountCacheGroup(userId));
  }

  /** A clinic must keep at least one active admin; the change is rolled back otherwise. */
  private async assertAnAdminRemains(data: ClinicData) {
    const [row] = await data.pick({ n: sql<number>`count(*)::int` }, memberships, eq(memberships.role, 'admin'), eq(memberships.active, true));
    if (!row || row.n === 0) throw conflict('last_admin', 'The clinic must keep at least one active admin');
  }
}
