import { desc, eq, gte, lte, type SQL } from 'drizzle-orm';
import { auditLog } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Db, Tx } from '../../infra/db.js';
import type { Actor } from '../../lib/permissions.js';
import { afterCursor, page } from '../../lib/cursor.js';

/** Who did it: a request's tenant context fits this shape. */
export interface AuditScope {
  clinicId: string;
  actor: Actor | null;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface AuditEntry {
  action: string;
  entityType: string;
  entityId?: string | null;
  contactId?: string | null;
  /** Ids and field names only: never clinical text or secrets. */
  details?: Record<string, unknown>;
}

export interface AuditFilters {
  entityType?: string;
  entityId?: string;
  actorId?: string;
  contactId?: string;
  from?: Date;
  to?: Date;
  cursor?: string;
  limit: number;
}

export class AuditService {
  constructor(private readonly db: Db) {}

  /** Writes one audit row; pass the transaction so the row commits (or not) with the change. */
  async record(scope: AuditScope, entry: AuditEntry, tx?: Tx): Promise<void> {
    const actor = scope.actor;
    await new ClinicData(scope.clinicId, tx ?? this.db).insert(auditLog, {
      actorType: actor?.type ?? 'system',
      actorId: actor?.type === 'user' ? actor.userId : actor?.type === 'api_key' ? actor.apiKeyId : null,
      // A feature acting on its own names itself where a member's role would be (`assistant`, `reminders`).
      actorRole: actor?.type === 'user' ? actor.role : actor?.type === 'system' ? actor.service : null,
      action: entry.action,
      entityType: entry.entityType,
      entityId: entry.entityId ?? null,
      contactId: entry.contactId ?? null,
      details: entry.details ?? null,
      ip: scope.ip ?? null,
      userAgent: scope.userAgent?.slice(0, 500) ?? null,
    });
  }

  async list(clinicId: string, f: AuditFilters) {
    const where: (SQL | undefined)[] = [];
    if (f.entityType) where.push(eq(auditLog.entityType, f.entityType));
    if (f.entityId) where.push(eq(auditLog.entityId, f.entityId));
    if (f.actorId) where.push(eq(auditLog.actorId, f.actorId));
    if (f.contactId) where.push(eq(auditLog.contactId, f.contactId));
    if (f.from) where.push(gte(auditLog.createdAt, f.from));
    if (f.to) where.push(lte(auditLog.createdAt, f.to));
    where.push(afterCursor(auditLog.createdAt, auditLog.id, f.cursor));
    const rows = await new ClinicData(clinicId, this.db)
      .select(auditLog, ...where)
      .orderBy(desc(auditLog.createdAt), desc(auditLog.id))
      .limit(f.limit + 1);
    return page(rows, f.limit);
  }
}
