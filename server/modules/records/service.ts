import { createHash } from 'node:crypto';
import { and, asc, desc, eq, isNotNull, sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { addendumCreate, recordCreate, recordPatch } from '../../../shared/api/records.js';
import { medicalRecordChainHeads, medicalRecords } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { AppError, conflict, forbidden, notFound } from '../../http/errors.js';
import { can } from '../../http/permissions.js';
import { afterCursor, page } from '../../lib/cursor.js';
import type { AuditService } from '../audit/service.js';
import type { ContactService } from '../contacts/service.js';
import type { FileService } from '../files/service.js';
import type { TimelineItem } from '../contacts/timeline.js';
import type { AppointmentService } from '../scheduling/appointments.js';
import type { Redact } from '../lgpd/redact.js';
import { anonymizeDrafts, anonymizeFileNames } from './anonymize.js';
import { attachmentsOf, checkFiles, recordOfFile, setAttachments, storedAttachmentsOf } from './attachments.js';
import { CHAIN_KEY_LABEL, ChainMac, verifyChain } from './chain.js';
import { presentRecords } from './present.js';

type Row = typeof medicalRecords.$inferSelect;
type CreateInput = z.infer<typeof recordCreate>;
type PatchInput = z.infer<typeof recordPatch>;

const TYPE_TITLES: Record<Row['type'], string> = {
  consultation: 'Consulta',
  evolution: 'Evolução',
  exam: 'Exame',
  prescription: 'Prescrição',
  note: 'Anotação',
};

function authorOf(ctx: TenantContext): string {
  if (ctx.actor.type !== 'user') throw forbidden('Only a signed-in professional writes medical records');
  return ctx.actor.userId;
}

const recordSigned = () => conflict('record_signed', 'This record is signed and can no longer be changed; add an addendum instead');


export class RecordService {
  private readonly mac: ChainMac;

  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly contacts: ContactService,
    private readonly files: FileService,
    private readonly appointments: Pick<AppointmentService, 'get'>,
  ) {
    this.mac = new ChainMac(infra.secrets.deriveKey(CHAIN_KEY_LABEL));
  }

  private present(rows: Row[]) {
    return presentRecords(this.infra.db, rows);
  }

  /** The appointment a record points at is of this clinic (404 otherwise) and of the same patient. */
  private async checkAppointment(ctx: TenantContext, contactId: string, appointmentId: string | null | undefined) {
    if (!appointmentId) return;
    const appointment = await this.appointments.get(ctx.clinicId, appointmentId);
    if (appointment.contactId !== contactId) throw new AppError(422, 'appointment_of_another_patient', 'The appointment belongs to another patient');
  }

  private async load(ctx: TenantContext, id: string, tx?: Tx): Promise<Row> {
    const query = (tx ?? this.infra.db)
      .select()
      .from(medicalRecords)
      .where(and(eq(medicalRecords.clinicId, ctx.clinicId), eq(medicalRecords.id, id)));
    // Inside a write, lock the row so a concurrent edit and signature cannot interleave.
    const [row] = tx ? await query.for('update') : await query;
    if (!row) throw notFound('Medical record');
    return row;
  }

  async list(ctx: TenantContext, contactId: string, opts: { limit: number; cursor?: string | undefined }) {
    await this.contacts.get(ctx.clinicId, contactId);
    const where: (SQL | undefined)[] = [eq(medicalRecords.clinicId, ctx.clinicId), eq(medicalRecords.contactId, contactId)];
    where.push(afterCursor(medicalRecords.createdAt, medicalRecords.id, opts.cursor));
    // The audit row (a durable commit, the slowest step) is written alongside the read; the answer
    // leaves only once both succeeded, so no record is shown without its audit row.
    const [rows] = await Promise.all([
      this.infra.db
        .select()
        .from(medicalRecords)
        .where(and(...where))
        .orderBy(desc(medicalRecords.createdAt), desc(medicalRecords.id))
        .limit(opts.limit + 1),
      this.audit.record(ctx, { action: 'medical_record.listed', entityType: 'medical_record', contactId, details: { cursor: opts.cursor ?? null } }),
    ]);
    const result = page(rows, opts.limit);
    return { items: await this.present(result.items), nextCursor: result.nextCursor };
  }

  async get(ctx: TenantContext, id: string) {
    const row = await this.load(ctx, id);
    await this.audit.record(ctx, { action: 'medical_record.viewed', entityType: 'medical_record', entityId: id, contactId: row.contactId });
    const [presented] = await this.present([row]);
    return presented;
  }

  async create(ctx: TenantContext, input: CreateInput) {
    const authorId = authorOf(ctx);
    await this.contacts.get(ctx.clinicId, input.contactId);
    await this.checkAppointment(ctx, input.contactId, input.appointmentId);
    await checkFiles(this.files, ctx.clinicId, input.attachmentIds);
    const { attachmentIds, ...fields } = input;
    const row = await this.infra.db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(medicalRecords)
        .values({ ...fields, clinicId: ctx.clinicId, authorId })
        .returning();
      if (!inserted) throw new Error('insert returned nothing');
      if (attachmentIds) await setAttachments(tx, ctx.clinicId, inserted.id, attachmentIds);
      await this.audit.record(ctx, { action: 'medical_record.created', entityType: 'medical_record', entityId: inserted.id, contactId: inserted.contactId, details: { type: inserted.type } }, tx);
      return inserted;
    });
    const [presented] = await this.present([row]);
    return presented;
  }

  async update(ctx: TenantContext, id: string, patch: PatchInput) {
    const authorId = authorOf(ctx);
    if (patch.appointmentId) await this.checkAppointment(ctx, (await this.load(ctx, id)).contactId, patch.appointmentId);
    await checkFiles(this.files, ctx.clinicId, patch.attachmentIds);
    const row = await this.infra.db.transaction(async (tx) => {
      const current = await this.load(ctx, id, tx);
      if (current.status === 'signed') throw recordSigned();
      if (current.authorId !== authorId) throw new AppError(403, 'not_record_author', 'Only the author edits a draft');
      const { attachmentIds, ...fields } = patch;
      const [updated] = await tx
        .update(medicalRecords)
        .set({ ...fields, updatedAt: new Date() })
        .where(and(eq(medicalRecords.clinicId, ctx.clinicId), eq(medicalRecords.id, id)))
        .returning();
      if (!updated) throw notFound('Medical record');
      if (attachmentIds) await setAttachments(tx, ctx.clinicId, id, attachmentIds);
      await this.audit.record(ctx, { action: 'medical_record.updated', entityType: 'medical_record', entityId: id, contactId: updated.contactId, details: { fields: Object.keys(patch) } }, tx);
      return updated;
    });
    const [presented] = await this.present([row]);
    return presented;
  }

  /** Freezes a draft, links it to the patient's chain and appends the new chain head; one signer at a time per patient. */
  private async signInTx(tx: Tx, ctx: TenantContext, id: string, signerId: string): Promise<Row> {
    const draft = await this.load(ctx, id, tx);
    if (draft.status === 'signed') throw recordSigned();
    if (draft.authorId !== signerId) throw new AppError(403, 'not_record_author', 'Only the author signs a draft');
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${draft.contactId}, 0))`);
    const [last] = await tx
      .select({ chainSeq: medicalRecords.chainSeq, contentHash: medicalRecords.contentHash })
      .from(medicalRecords)
      .where(and(eq(medicalRecords.contactId, draft.contactId), isNotNull(medicalRecords.chainSeq)))
      .orderBy(desc(medicalRecords.chainSeq))
      .limit(1);
    const signed: Row = {
      ...draft,
      status: 'signed',
      signedBy: signerId,
      signedAt: new Date(),
      chainSeq: (last?.chainSeq ?? 0) + 1,
      previousHash: last?.contentHash ?? null,
    };
    const attachments = await attachmentsOf(tx, ctx.clinicId, [id]);
    const contentHash = this.mac.record(signed, attachments.get(id) ?? []);
    signed.contentHash = contentHash;
    const [updated] = await tx
      .update(medicalRecords)
      .set({ status: 'signed', signedBy: signerId, signedAt: signed.signedAt, chainSeq: signed.chainSeq, previousHash: signed.previousHash, contentHash: signed.contentHash, updatedAt: signed.signedAt as Date })
      .where(and(eq(medicalRecords.id, id), eq(medicalRecords.status, 'draft')))
      .returning();
    if (!updated) throw recordSigned();
    const head = { clinicId: ctx.clinicId, contactId: draft.contactId, length: signed.chainSeq as number, headRecordId: id, headMac: contentHash };
    await tx.insert(medicalRecordChainHeads).values({ ...head, mac: this.mac.head(head) });
    await this.audit.record(ctx, { action: 'medical_record.signed', entityType: 'medical_record', entityId: id, contactId: updated.contactId, details: { chainSeq: updated.chainSeq } }, tx);
    await this.infra.events.publish(tx, 'medical_record.signed', { id: updated.id, contactId: updated.contactId }, ctx);
    return updated;
  }

  async sign(ctx: TenantContext, id: string) {
    const signerId = authorOf(ctx);
    const row = await this.infra.db.transaction((tx) => this.signInTx(tx, ctx, id, signerId));
    const [presented] = await this.present([row]);
    return presented;
  }

  /** A correction: a new row referencing a signed record, signed at once (so it is frozen too). */
  async addAddendum(ctx: TenantContext, id: string, input: z.infer<typeof addendumCreate>) {
    const authorId = authorOf(ctx);
    await checkFiles(this.files, ctx.clinicId, input.attachmentIds);
    const row = await this.infra.db.transaction(async (tx) => {
      const original = await this.load(ctx, id, tx);
      if (original.status !== 'signed') throw new AppError(409, 'record_not_signed', 'Edit the draft itself; addenda correct signed records');
      const [draft] = await tx
        .insert(medicalRecords)
        .values({ clinicId: ctx.clinicId, contactId: original.contactId, appointmentId: original.appointmentId, addendumOf: original.addendumOf ?? original.id, authorId, type: original.type, content: input.content })
        .returning();
      if (!draft) throw new Error('insert returned nothing');
      if (input.attachmentIds) await setAttachments(tx, ctx.clinicId, draft.id, input.attachmentIds);
      await this.audit.record(ctx, { action: 'medical_record.addendum_created', entityType: 'medical_record', entityId: draft.id, contactId: draft.contactId, details: { addendumOf: draft.addendumOf } }, tx);
      return this.signInTx(tx, ctx, draft.id, authorId);
    });
    const [presented] = await this.present([row]);
    return presented;
  }

  async verify(ctx: TenantContext, contactId: string) {
    await this.contacts.get(ctx.clinicId, contactId);
    const rows = await this.infra.db
      .select()
      .from(medicalRecords)
      .where(and(eq(medicalRecords.clinicId, ctx.clinicId), eq(medicalRecords.contactId, contactId), isNotNull(medicalRecords.chainSeq)))
      .orderBy(asc(medicalRecords.chainSeq));
    const heads = await this.infra.db
      .select()
      .from(medicalRecordChainHeads)
      .where(and(eq(medicalRecordChainHeads.clinicId, ctx.clinicId), eq(medicalRecordChainHeads.contactId, contactId)))
      .orderBy(asc(medicalRecordChainHeads.length));
    const attachments = await storedAttachmentsOf(this.infra.db, ctx.clinicId, rows.map((r) => r.id));
    // The bytes are read again from storage, one file at a time (up to 25 MB each).
    const storedSha256 = new Map<string, string | null>();
    for (const file of [...attachments.values()].flat()) {
      const bytes = await this.infra.storage.read(file.storageKey);
      storedSha256.set(file.id, bytes ? createHash('sha256').update(bytes).digest('hex') : null);
    }
    const report = verifyChain(this.mac, {
      rows,
      heads,
      attachments: (recordId) => attachments.get(recordId) ?? [],
      storedSha256: (fileId) => storedSha256.get(fileId) ?? null,
    });
    await this.audit.record(ctx, { action: 'medical_record.chain_verified', entityType: 'medical_record', contactId, details: { valid: report.valid, checked: report.checked } });
    return report;
  }

  /** LGPD anonymisation (inside its transaction): drafts and file names lose the patient's identifiers. */
  async anonymize(tx: Tx, ctx: TenantContext, contactId: string, redact: Redact) {
    await anonymizeDrafts(tx, ctx.clinicId, contactId, redact);
    await anonymizeFileNames(tx, ctx.clinicId, redact);
  }

  /** Whether the patient has any record: such a patient is only ever soft-deleted. */
  async hasRecords(clinicId: string, contactId: string): Promise<boolean> {
    const [row] = await this.infra.db
      .select({ id: medicalRecords.id })
      .from(medicalRecords)
      .where(and(eq(medicalRecords.clinicId, clinicId), eq(medicalRecords.contactId, contactId)))
      .limit(1);
    return Boolean(row);
  }

  /** Every record of a patient with addenda and attachments, for the LGPD export (the caller audits). */
  async exportFor(ctx: TenantContext, contactId: string) {
    const rows = await this.infra.db
      .select()
      .from(medicalRecords)
      .where(and(eq(medicalRecords.clinicId, ctx.clinicId), eq(medicalRecords.contactId, contactId)))
      .orderBy(asc(medicalRecords.createdAt));
    return this.present(rows);
  }

  /** Who touched this patient's clinical data (every audit row naming the patient). */
  async accessLog(ctx: TenantContext, contactId: string, opts: { limit: number; cursor?: string | undefined }) {
    await this.contacts.get(ctx.clinicId, contactId);
    return this.audit.list(ctx.clinicId, { contactId, limit: opts.limit, ...(opts.cursor ? { cursor: opts.cursor } : {}) });
  }

  async timelineItems(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    if (!can(ctx.actor, 'records:read')) return [];
    const rows = await this.infra.db
      .select({ id: medicalRecords.id, type: medicalRecords.type, status: medicalRecords.status, addendumOf: medicalRecords.addendumOf, createdAt: medicalRecords.createdAt, signedAt: medicalRecords.signedAt })
      .from(medicalRecords)
      .where(and(eq(medicalRecords.clinicId, ctx.clinicId), eq(medicalRecords.contactId, contactId)));
    if (rows.length > 0) await this.audit.record(ctx, { action: 'medical_record.listed', entityType: 'medical_record', contactId, details: { count: rows.length, via: 'timeline' } });
    return rows.map((r) => ({
      type: 'medical_record',
      id: r.id,
      at: (r.signedAt ?? r.createdAt).toISOString(),
      title: r.addendumOf ? `Adendo: ${TYPE_TITLES[r.type]}` : TYPE_TITLES[r.type],
      data: { status: r.status, recordType: r.type, addendumOf: r.addendumOf },
    }));
  }

  /** Record attachments (a file access guard): only professionals read them (audited with the patient); none is deleted. */
  async guardAttachment(ctx: TenantContext, fileId: string, operation: 'read' | 'delete') {
    const recordId = await recordOfFile(this.infra.db, ctx.clinicId, fileId);
    if (!recordId) return;
    if (!can(ctx.actor, 'records:read')) throw forbidden('Attachments of medical records are visible to professionals only');
    if (operation === 'delete') throw conflict('file_attached_to_record', 'Remove the file from the draft record first; files of signed records are kept');
    const [record] = await this.infra.db.select({ contactId: medicalRecords.contactId }).from(medicalRecords).where(eq(medicalRecords.id, recordId));
    await this.audit.record(ctx, { action: 'medical_record.attachment_viewed', entityType: 'file', entityId: fileId, contactId: record?.contactId ?? null, details: { recordId } });
  }
}
