import { and, eq, isNull } from 'drizzle-orm';
import { contacts } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import { notFound } from '../../http/errors.js';
import type { AuditService } from '../audit/service.js';

export type Contact = typeof contacts.$inferSelect;

export class ContactService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
  ) {}

  /** A live patient of this clinic, or 404 (also for another clinic's or a deleted one). */
  async get(clinicId: string, id: string): Promise<Contact> {
    const [row] = await this.infra.db
      .select()
      .from(contacts)
      .where(and(eq(contacts.clinicId, clinicId), eq(contacts.id, id), isNull(contacts.deletedAt)));
    if (!row) throw notFound('Contact');
    return row;
  }
}
