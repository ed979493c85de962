import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { TenantContext } from '../../http/context.js';
import { conflict } from '../../lib/errors.js';
import type { AnamnesisService } from '../anamnesis/service.js';
import type { AuditService } from '../audit/service.js';
import type { ContactService } from '../contacts/service.js';
import type { Providers } from '../module.js';
import type { RecordService } from '../records/service.js';
import { identifierRedactor, type Redact } from './redact.js';

/** A part of the export that another feature owns (appointments, messages, pipeline...). */
export type ExportSection = (ctx: TenantContext, contactId: string) => Promise<unknown>;
/**
 * Wipes a feature's identifying or marketing data of a patient, inside the anonymisation
 * transaction: free text that is not clinical is erased; clinical free text is kept through
 * `redact`, which removes the patient's name, phone, email and CPF (read before they were wiped).
 * Signed records are immutable and stay as signed.
 */
export type Anonymizer = (tx: Tx, ctx: TenantContext, contactId: string, redact: Redact) => Promise<void>;

const AUDIT_PAGE = 200;

export const ANONYMIZED_MESSAGE =
  'Os dados de identificação do paciente foram apagados definitivamente e não podem ser recuperados. ' +
  'Prontuários e anamneses foram mantidos pelo prazo legal de 20 anos.';

/** LGPD rights of the patient: the whole export and the irreversible anonymisation. */
export class LgpdService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly contacts: ContactService,
    private readonly records: RecordService,
    private readonly anamnesis: AnamnesisService,
    private readonly providers: Pick<Providers, 'exportSections' | 'anonymizers'>,
  ) {}

  private async accessLog(clinicId: string, contactId: string) {
    const rows = [];
    let cursor: string | undefined;
    do {
      const page = await this.audit.list(clinicId, { contactId, limit: AUDIT_PAGE, ...(cursor ? { cursor } : {}) });
      rows.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return rows;
  }

  async export(ctx: TenantContext, contactId: string) {
    const { clinicId: _clinic, ...contact } = await this.contacts.get(ctx.clinicId, contactId);
    await this.audit.record(ctx, { action: 'contact.exported', entityType: 'contact', entityId: contactId, contactId });
    const [medicalRecords, anamneses, accessLog] = await Promise.all([
      this.records.exportFor(ctx, contactId),
      this.anamnesis.exportFor(ctx, contactId),
      this.accessLog(ctx.clinicId, contactId),
    ]);
    const extra: Record<string, unknown> = {};
    for (const [name, section] of this.providers.exportSections) extra[name] = await section(ctx, contactId);
    return {
      exportedAt: new Date().toISOString(),
      contact,
      ...extra,
      medicalRecords,
      anamneses,
      files: medicalRecords.flatMap((r) => r.attachments.map((f) => ({ ...f, recordId: r.id }))),
      accessLog,
    };
  }

  async anonymize(ctx: TenantContext, contactId: string) {
    const patient = await this.contacts.get(ctx.clinicId, contactId);
    const redact = identifierRedactor(patient);
    const anonymizedAt = new Date();
    await this.infra.db.transaction(async (tx) => {
      if (!(await this.contacts.anonymize(ctx, contactId, tx))) throw conflict('already_anonymized', 'This patient was already anonymised');
      for (const anonymizer of this.providers.anonymizers) await anonymizer(tx, ctx, contactId, redact);
    });
    return { id: contactId, anonymizedAt: anonymizedAt.toISOString(), irreversible: true, message: ANONYMIZED_MESSAGE };
  }
}
