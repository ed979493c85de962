import { and, eq, isNull } from 'drizzle-orm';
import { contacts } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
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

  /**
   * LGPD erasure, irreversible: identifying and marketing data (tags) are wiped and the patient is
   * marked anonymised. Clinical rows elsewhere keep the id. Returns false when already anonymised.
   */
  async anonymize(ctx: TenantContext, id: string, tx: Tx): Promise<boolean> {
    const now = new Date();
    const [row] = await tx
      .update(contacts)
      .set({ name: 'Paciente anonimizado', phone: null, email: null, cpf: null, birthDate: null, notes: null, tags: [], status: 'inactive', anonymizedAt: now, updatedAt: now })
      .where(and(eq(contacts.clinicId, ctx.clinicId), eq(contacts.id, id), isNull(contacts.deletedAt), isNull(contacts.anonymizedAt)))
      .returning({ id: contacts.id });
    if (!row) return false;
    await this.audit.record(ctx, { action: 'contact.anonymized', entityType: 'contact', entityId: id, contactId: id }, tx);
    return true;
  }
}
