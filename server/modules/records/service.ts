import { createHash } from 'node:crypto';
import { asc, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import type { z } from 'zod';
import type { addendumCreate, recordCreate, recordPatch } from '../../../shared/api/records.js';
import { medicalRecordChainHeads, medicalRecords } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { AppError, conflict, forbidden, notFound } from '../../lib/errors.js';
import { can } from '../../lib/permissions.js';
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
import { presentRecords, type PresentedRecord } from './present.js';

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

  private data(clinicId: string) {
    return new ClinicData(clinicId, this.infra.db);
  }

  /** The appointment a record points at is of this clinic (404 otherwise) and of the same patient. */
  private async checkAppointment(ctx: TenantContext, contactId: string, appointmentId: string | null | undefined) {
    if (!appointmentId) return;
    const appointment = await this.appointments.get(ctx.clinicId, appointmentId);
    if (appointment.contactId !== contactId) throw new AppError(422, 'appointment_of_another_patient', 'The appointment belongs to another patient');
  }

  /** `lock` inside a write, so a concurrent edit and signature cannot interleave. */
  private async load(data: ClinicData, id: string, lock = false): Promise<Row> {
    const query = data.select(medicalRecords, eq(medicalRecords.id, id));
    const [row] = lock ? await query.for('update') : await query;
    if (!row) throw notFound('Medical record');
    return row;
  }

  async list(ctx: TenantContext, contactId: string, opts: { limit: number; cursor?: string | undefined }) {
    await this.contacts.get(ctx.clinicId, contactId);
    const data = this.data(ctx.clinicId);
    // The audit row (a durable commit, the slowest step) is written alongside the read; the answer
    // leaves only once both succeeded, so no record is shown without its audit row.
    const [rows] = await Promise.all([
      data
        .select(medicalRecords, eq(medicalRecords.contactId, contactId), afterCursor(medicalRecords.createdAt, medicalRecords.id, opts.cursor))
        .orderBy(desc(medicalRecords.createdAt), desc(medicalRecords.id))
        .limit(opts.limit + 1),
      this.audit.record(ctx, { action: 'medical_record.listed', entityType: 'medical_record', contactId, details: { cursor: opts.cursor ?? null } }),
    ]);
    const result = page(rows, opts.limit);
    return { items: await presentRecords(data, result.items), nextCursor: result.nextCursor };
  }

  async get(ctx: TenantContext, id: string) {
    const data = this.data(ctx.clinicId);
    const row = await this.load(data, id);
    await this.audit.record(ctx, { action: 'medical_record.viewed', entityType: 'medical_record', entityId: id, contactId: row.contactId });
    const [presented] = await presentRecords(data, [row]);
    return presented;
  }

  /**
   * The patient's signed records (addenda inline), newest first, read for the professional's
   * assistant: `choose` picks those the model will be given, and one audit row
   * (`medical_record.assistant_read`) names exactly them with the caller's details (the anamneses
   * beside them, the model), written before the caller sends anything. Drafts are never read.
   */
  async readForAssistant<R>(
    ctx: TenantContext,
    contactId: string,
    opts: { limit: number; choose: (records: PresentedRecord[]) => { recordIds: string[]; details: Record<string, unknown>; result: R } },
  ): Promise<R> {
    await this.contacts.get(ctx.clinicId, contactId);
    const data = this.data(ctx.clinicId);
    const rows = await data
      .select(medicalRecords, eq(medicalRecords.contactId, contactId), eq(medicalRecords.status, 'signed'), isNull(medicalRecords.addendumOf))
      .orderBy(desc(medicalRecords.createdAt), desc(medicalRecords.id))
      .limit(opts.limit);
    const chosen = opts.choose(await presentRecords(data, rows));
    await this.audit.record(ctx, {
      action: 'medical_record.assistant_read',
      entityType: 'medical_record',
      contactId,
      details: { recordIds: chosen.recordIds, ...chosen.details },
    });
    return chosen.result;
  }

  async create(ctx: TenantContext, input: CreateInput) {
    const authorId = authorOf(ctx);
    await this.contacts.get(ctx.clinicId, input.contactId);
    await this.checkAppointment(ctx, input.contactId, input.appointmentId);
    await checkFiles(this.files, ctx.clinicId, input.attachmentIds);
    const { attachmentIds, ...fields } = input;
    const data = this.data(ctx.clinicId);
    const row = await data.transaction(async (txData, tx) => {
      const [inserted] = await txData.insert(medicalRecords, { ...fields, authorId }).returning();
      if (!inserted) throw new Error('insert returned nothing');
      if (attachmentIds) await setAttachments(txData, inserted.id, attachmentIds);
      await this.audit.record(ctx, { action: 'medical_record.created', entityType: 'medical_record', entityId: inserted.id, contactId: inserted.contactId, details: { type: inserted.type } }, tx);
      return inserted;
    });
    const [presented] = await presentRecords(data, [row]);
    return presented;
  }

  async update(ctx: TenantContext, id: string, patch: PatchInput) {
    const authorId = authorOf(ctx);
    const data = this.data(ctx.clinicId);
    if (patch.appointmentId) await this.checkAppointment(ctx, (await this.load(data, id)).contactId, patch.appointmentId);
    await checkFiles(this.files, ctx.clinicId, patch.attachmentIds);
    const row = await data.transaction(async (txData, tx) => {
      const current = await this.load(txData, id, true);
      if (current.status === 'signed') throw recordSigned();
      if (current.authorId !== authorId) throw new AppError(403, 'not_record_author', 'Only the author edits a draft');
      const { attachmentIds, ...fields } = patch;
      const [updated] = await txData.update(medicalRecords, { ...fields, updatedAt: new Date() }, eq(medicalRecords.id, id)).returning();
      if (!updated) throw notFound('Medical record');
      if (attachmentIds) await setAttachments(txData, id, attachmentIds);
      await this.audit.record(ctx, { action: 'medical_record.updated', entityType: 'medical_record', entityId: id, contactId: updated.contactId, details: { fields: Object.keys(patch) } }, tx);
      return updated;
    });
    const [presented] = await presentRecords(data, [row]);
    return presented;
  }

  /** Freezes a draft, links it to the patient's chain and appends the new chain head; one signer at a time per patient. */
  private async signInTx(data: ClinicData, tx: Tx, ctx: TenantContext, id: string, signerId: string): Promise<Row> {
    const draft = await this.load(data, id, true);
    if (draft.status === 'signed') throw recordSigned();
    if (draft.authorId !== signerId) throw new AppError(403, 'not_record_author', 'Only the author signs a draft');
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${draft.contactId}, 0))`);
    const [last] = await data
      .pick({ chainSeq: medicalRecords.chainSeq, contentHash: medicalRecords.contentHash }, medicalRecords, eq(medicalRecords.contactId, draft.contactId), isNotNull(medicalRecords.chainSeq))
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
    const attachments = await attachmentsOf(data, [id]);
    const contentHash = this.mac.record(signed, attachments.get(id) ?? []);
    signed.contentHash = contentHash;
    const [updated] = await data
      .update(
        medicalRecords,
        { status: 'signed', signedBy: signerId, signedAt: signed.signedAt, chainSeq: signed.chainSeq, previousHash: signed.previousHash, contentHash: signed.contentHash, updatedAt: signed.signedAt as Date },
        eq(medicalRecords.id, id),
        eq(medicalRecords.status, 'draft'),
      )
      .returning();
    if (!updated) throw recordSigned();
    const head = { clinicId: data.clinicId, contactId: draft.contactId, length: signed.chainSeq as number, headRecordId: id, headMac: contentHash };
    await data.insert(medicalRecordChainHeads, { ...head, mac: this.mac.head(head) });
    await this.audit.record(ctx, { action: 'medical_record.signed', entityType: 'medical_record', entityId: id, contactId: updated.contactId, details: { chainSeq: updated.chainSeq } }, tx);
    await this.infra.events.publish(tx, 'medical_record.signed', { id: updated.id, contactId: updated.contactId }, ctx);
    return updated;
  }

  async sign(ctx: TenantContext, id: string) {
    const signerId = authorOf(ctx);
    const data = this.data(ctx.clinicId);
    const row = await data.transaction((txData, tx) => this.signInTx(txData, tx, ctx, id, signerId));
    const [presented] = await presentRecords(data, [row]);
    return presented;
  }

  /** A correction: a new row referencing a signed record, signed at once (so it is frozen too). */
  async addAddendum(ctx: TenantContext, id: string, input: z.infer<typeof addendumCreate>) {
    const authorId = authorOf(ctx);
    await checkFiles(this.files, ctx.clinicId, input.attachmentIds);
    const data = this.data(ctx.clinicId);
    const row = await data.transaction(async (txData, tx) => {
      const original = await this.load(txData, id, true);
      if (original.status !== 'signed') throw new AppError(409, 'record_not_signed', 'Edit the draft itself; addenda correct signed records');
      const [draft] = await txData
        .insert(medicalRecords, { contactId: original.contactId, appointmentId: original.appointmentId, addendumOf: original.addendumOf ?? original.id, authorId, type: original.type, content: input.content })
        .returning();
      if (!draft) throw new Error('insert returned nothing');
      if (input.attachmentIds) await setAttachments(txData, draft.id, input.attachmentIds);
      await this.audit.record(ctx, { action: 'medical_record.addendum_created', entityType: 'medical_record', entityId: draft.id, contactId: draft.contactId, details: { addendumOf: draft.addendumOf } }, tx);
      return this.signInTx(txData, tx, ctx, draft.id, authorId);
    });
    const [presented] = await presentRecords(data, [row]);
    return presented;
  }

  async verify(ctx: TenantContext, contactId: string) {
    await this.contacts.get(ctx.clinicId, contactId);
    const data = this.data(ctx.clinicId);
    const rows = await data.select(medicalRecords, eq(medicalRecords.contactId, contactId), isNotNull(medicalRecords.chainSeq)).orderBy(asc(medicalRecords.chainSeq));
    const heads = await data.select(medicalRecordChainHeads, eq(medicalRecordChainHeads.contactId, contactId)).orderBy(asc(medicalRecordChainHeads.length));
    const attachments = await storedAttachmentsOf(data, rows.map((r) => r.id));
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
    const data = new ClinicData(ctx.clinicId, tx);
    await anonymizeDrafts(data, contactId, redact);
    await anonymizeFileNames(data, redact);
  }

  /** Whether the patient has any record: such a patient is only ever soft-deleted. */
  async hasRecords(clinicId: string, contactId: string): Promise<boolean> {
    const [row] = await this.data(clinicId).pick({ id: medicalRecords.id }, medicalRecords, eq(medicalRecords.contactId, contactId)).limit(1);
    return Boolean(row);
  }

  /** Every record of a patient with addenda and attachments, for the LGPD export (the caller audits). */
  async exportFor(ctx: TenantContext, contactId: string) {
    const data = this.data(ctx.clinicId);
    const rows = await data.select(medicalRecords, eq(medicalRecords.contactId, contactId)).orderBy(asc(medicalRecords.createdAt));
    return presentRecords(data, rows);
  }

  /** Who touched this patient's clinical data (every audit row naming the patient). */
  async accessLog(ctx: TenantContext, contactId: string, opts: { limit: number; cursor?: string | undefined }) {
    await this.contacts.get(ctx.clinicId, contactId);
    return this.audit.list(ctx.clinicId, { contactId, limit: opts.limit, ...(opts.cursor ? { cursor: opts.cursor } : {}) });
  }

  async timelineItems(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    if (!can(ctx.actor, 'records:read')) return [];
    const rows = await this.data(ctx.clinicId).pick(
      { id: medicalRecords.id, type: medicalRecords.type, status: medicalRecords.status, addendumOf: medicalRecords.addendumOf, createdAt: medicalRecords.createdAt, signedAt: medicalRecords.signedAt },
      medicalRecords,
      eq(medicalRecords.contactId, contactId),
    );
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
    const data = this.data(ctx.clinicId);
    const recordId = await recordOfFile(data, fileId);
    if (!recordId) return;
    if (!can(ctx.actor, 'records:read')) throw forbidden('Attachments of medical records are visible to professionals only');
    if (operation === 'delete') throw conflict('file_attached_to_record', 'Remove the file from the draft record first; files of signed records are kept');
    const [record] = await data.pick({ contactId: medicalRecords.contactId }, medicalRecords, eq(medicalRecords.id, recordId));
    await this.audit.record(ctx, { action: 'medical_record.attachment_viewed', entityType: 'file', entityId: fileId, contactId: record?.contactId ?? null, details: { recordId } });
  }
}
