import { timingSafeEqual } from 'node:crypto';
import { desc, eq, isNull, ne, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { publicAnswer, Question } from '../../../shared/api/anamnesis.js';
import { anamnesisResponses, anamnesisTemplates } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { BaseContext, TenantContext } from '../../http/context.js';
import { actorUserId } from '../../http/context.js';
import { AppError, badRequest, conflict, notFound } from '../../lib/errors.js';
import { can } from '../../lib/permissions.js';
import { hashToken, randomToken } from '../../lib/tokens.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { TimelineItem } from '../contacts/timeline.js';
import { redactJson, type Redact } from '../lgpd/redact.js';
import { mergeAnswers } from './answers.js';
import { CONSENT_TEXT, CONSENT_VERSION } from './defaults.js';
import type { TemplateService } from './templates.js';

const LINK_DAYS = 30;
const DAY_MS = 86_400_000;

const responseColumns = {
  response: anamnesisResponses,
  templateName: anamnesisTemplates.name,
  templateVersion: anamnesisTemplates.version,
  questions: anamnesisTemplates.questions,
};
type Joined = { response: typeof anamnesisResponses.$inferSelect; templateName: string; templateVersion: number; questions: unknown[] };

const summary = ({ response: r, templateName, templateVersion }: Joined) => ({
  id: r.id,
  templateId: r.templateId,
  templateName,
  templateVersion,
  status: r.status,
  expiresAt: r.expiresAt.toISOString(),
  submittedAt: r.submittedAt?.toISOString() ?? null,
  createdAt: r.createdAt.toISOString(),
});

const detail = (j: Joined) => ({
  ...summary(j),
  contactId: j.response.contactId,
  questions: j.questions as Question[],
  answers: j.response.answers,
  consent: j.response.consentVersion && j.response.consentAt ? { version: j.response.consentVersion, at: j.response.consentAt.toISOString(), ip: j.response.consentIp } : null,
});

const alreadySubmitted = () => conflict('anamnesis_already_submitted', 'Este formulário já foi enviado');

/** Whether a public request comes from the device that gave consent (`resuming`), another one after that (`other`), or before any consent (`new`). */
function deviceOf(r: typeof anamnesisResponses.$inferSelect, resumeSecret: string | undefined): 'new' | 'resuming' | 'other' {
  if (r.resumeSecretHash === null) return r.consentAt === null ? 'new' : 'other';
  if (!resumeSecret) return 'other';
  const given = Buffer.from(hashToken(resumeSecret));
  const stored = Buffer.from(r.resumeSecretHash);
  return given.length === stored.length && timingSafeEqual(given, stored) ? 'resuming' : 'other';
}

export class AnamnesisService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly contacts: ContactService,
    private readonly templates: TemplateService,
    private readonly clinics: ClinicService,
  ) {}

  /** The clinic's responses matching the conditions, each with its template. */
  private joined(clinicId: string, ...conditions: (SQL | undefined)[]) {
    const data = new ClinicData(clinicId, this.infra.db);
    return data
      .pick(responseColumns, anamnesisResponses, ...conditions)
      .innerJoin(anamnesisTemplates, data.owns(anamnesisTemplates, eq(anamnesisTemplates.id, anamnesisResponses.templateId)));
  }

  async send(ctx: TenantContext, contactId: string, templateId: string) {
    await this.contacts.get(ctx.clinicId, contactId);
    const template = await this.templates.row(ctx.clinicId, templateId, { current: true });
    const token = randomToken();
    const expiresAt = new Date(Date.now() + LINK_DAYS * DAY_MS);
    const row = await new ClinicData(ctx.clinicId, this.infra.db).transaction(async (data, tx) => {
      const [inserted] = await data
        .insert(anamnesisResponses, { contactId, templateId: template.id, tokenHash: hashToken(token), expiresAt, sentBy: actorUserId(ctx) })
        .returning({ id: anamnesisResponses.id });
      if (!inserted) throw new Error('insert returned nothing');
      await this.audit.record(ctx, { action: 'anamnesis.sent', entityType: 'anamnesis_response', entityId: inserted.id, contactId, details: { templateId: template.id } }, tx);
      return inserted;
    });
    const url = `${this.infra.config.publicAppUrl}/anamnese/${encodeURIComponent(token)}`;
    return { id: row.id, token, url, expiresAt: expiresAt.toISOString() };
  }

  async listForContact(ctx: TenantContext, contactId: string) {
    await this.contacts.get(ctx.clinicId, contactId);
    const rows = await this.joined(ctx.clinicId, eq(anamnesisResponses.contactId, contactId)).orderBy(desc(anamnesisResponses.createdAt));
    await this.audit.record(ctx, { action: 'anamnesis.listed', entityType: 'anamnesis_response', contactId, details: { count: rows.length } });
    return { items: rows.map(summary), nextCursor: null };
  }

  async get(ctx: TenantContext, id: string) {
    const [row] = await this.joined(ctx.clinicId, eq(anamnesisResponses.id, id));
    if (!row) throw notFound('Anamnesis');
    await this.audit.record(ctx, { action: 'anamnesis.viewed', entityType: 'anamnesis_response', entityId: id, contactId: row.response.contactId });
    return detail(row);
  }

  /** Wrong or revoked token: 404; expired: 410; already submitted: 409. Nothing else is revealed. */
  private async byToken(token: string) {
    // Crosses clinics on purpose: the patient's link is all a public request has, and it names the clinic.
    const [row] = await this.infra.systemDb
      .select(responseColumns)
      .from(anamnesisResponses)
      .innerJoin(anamnesisTemplates, eq(anamnesisTemplates.id, anamnesisResponses.templateId))
      .where(eq(anamnesisResponses.tokenHash, hashToken(token)));
    if (!row || row.response.revoked) throw notFound('Form');
    if (row.response.status === 'submitted') throw alreadySubmitted();
    if (row.response.expiresAt.getTime() < Date.now()) throw new AppError(410, 'anamnesis_expired', 'Este link expirou; peça um novo à clínica');
    return row;
  }

  /**
   * The form for the patient. Saved answers are shown only to the device that gave consent (it
   * holds the resume secret); anyone else with the link, such as the staff member who sent it,
   * sees the questions and whether the form was begun on another device, never the answers.
   */
  async publicForm(token: string, resumeSecret: string | undefined) {
    const row = await this.byToken(token);
    const r = row.response;
    const clinic = await this.clinics.get(r.clinicId);
    const device = deviceOf(r, resumeSecret);
    return {
      clinicName: clinic.name,
      templateName: row.templateName,
      questions: row.questions as Question[],
      answers: device === 'resuming' ? r.answers : {},
      status: device === 'resuming' ? r.status : 'pending',
      startedOnAnotherDevice: device === 'other',
      expiresAt: r.expiresAt.toISOString(),
      consent: { version: CONSENT_VERSION, text: CONSENT_TEXT, given: device === 'resuming' },
    };
  }

  /**
   * Saves or submits answers. The device that holds the resume secret carries on; any other
   * request must accept the consent, which starts the form afresh (answers saved elsewhere are
   * discarded, never shown) and hands this device a new secret, returned once.
   */
  async publicAnswer(ctx: BaseContext, token: string, resumeSecret: string | undefined, input: z.infer<typeof publicAnswer>) {
    const row = await this.byToken(token);
    const r = row.response;
    const device = deviceOf(r, resumeSecret);
    if (input.consent && input.consent.version !== CONSENT_VERSION) throw badRequest('consent_version_mismatch', 'Recarregue o formulário para ler o termo atual');
    if (device !== 'resuming' && !input.consent) {
      if (device === 'other') throw new AppError(403, 'anamnesis_started_elsewhere', 'Este formulário foi iniciado em outro aparelho. Aceite o termo para recomeçar aqui; as respostas salvas no outro aparelho serão descartadas');
      throw new AppError(422, 'consent_required', 'É preciso aceitar o termo de consentimento antes de responder');
    }
    const starting = device !== 'resuming';
    const answers = mergeAnswers(row.questions as Question[], starting ? {} : r.answers, input.answers, input.submit);
    const now = new Date();
    const newSecret = starting && !input.submit ? randomToken() : null;
    const consent = starting && input.consent ? { consentVersion: input.consent.version, consentAt: now, consentIp: ctx.ip ?? null } : {};
    const submitted = input.submit ? { status: 'submitted' as const, submittedAt: now, submittedIp: ctx.ip ?? null } : { status: 'in_progress' as const };
    // A submitted form needs no secret any more; a fresh start replaces the previous device's.
    const resumeSecretHash = input.submit ? null : newSecret ? hashToken(newSecret) : r.resumeSecretHash;
    await new ClinicData(r.clinicId, this.infra.db).transaction(async (data, tx) => {
      // The guards make the final submission happen once, and a change by another device (a
      // restart, a submission) since this request read the row refuse this one.
      const [updated] = await data
        .update(
          anamnesisResponses,
          { answers, ...consent, ...submitted, resumeSecretHash, updatedAt: now },
          eq(anamnesisResponses.id, r.id),
          ne(anamnesisResponses.status, 'submitted'),
          r.resumeSecretHash === null ? isNull(anamnesisResponses.resumeSecretHash) : eq(anamnesisResponses.resumeSecretHash, r.resumeSecretHash),
        )
        .returning({ id: anamnesisResponses.id });
      if (!updated) throw conflict('anamnesis_changed', 'Este formulário foi alterado em outro aparelho; recarregue a página');
      const scope = { clinicId: r.clinicId, actor: null, ip: ctx.ip, userAgent: ctx.userAgent };
      const action = input.submit ? 'anamnesis.submitted' : 'anamnesis.saved';
      const details = { answered: Object.keys(answers).length, consentGiven: 'consentAt' in consent, restarted: starting && r.consentAt !== null };
      await this.audit.record(scope, { action, entityType: 'anamnesis_response', entityId: r.id, contactId: r.contactId, details }, tx);
      if (input.submit) await this.infra.events.publish(tx, 'anamnesis.submitted', { id: r.id, contactId: r.contactId }, { clinicId: r.clinicId, requestId: ctx.requestId });
    });
    return { status: submitted.status, submittedAt: input.submit ? now.toISOString() : null, ...(newSecret ? { resumeSecret: newSecret } : {}) };
  }

  /** Whether the patient was ever sent a form: such a patient is only ever soft-deleted. */
  async hasResponses(clinicId: string, contactId: string): Promise<boolean> {
    const data = new ClinicData(clinicId, this.infra.db);
    const [row] = await data.pick({ id: anamnesisResponses.id }, anamnesisResponses, eq(anamnesisResponses.contactId, contactId)).limit(1);
    return Boolean(row);
  }

  /** Every response with its answers, for the LGPD export (the caller audits). */
  async exportFor(ctx: TenantContext, contactId: string) {
    const rows = await this.joined(ctx.clinicId, eq(anamnesisResponses.contactId, contactId)).orderBy(desc(anamnesisResponses.createdAt));
    return rows.map(detail);
  }

  /**
   * Anonymisation: open links stop working; answers (clinical) keep their content without the
   * patient's identifiers; the IPs of consent and submission go (the consent's version and time stay).
   */
  async anonymize(tx: Tx, clinicId: string, contactId: string, redact: Redact) {
    const data = new ClinicData(clinicId, tx);
    const rows = await data.pick(
      { id: anamnesisResponses.id, answers: anamnesisResponses.answers, status: anamnesisResponses.status, revoked: anamnesisResponses.revoked },
      anamnesisResponses,
      eq(anamnesisResponses.contactId, contactId),
    );
    for (const r of rows) {
      await data.update(
        anamnesisResponses,
        { answers: redactJson(r.answers, redact), consentIp: null, submittedIp: null, resumeSecretHash: null, revoked: r.revoked || r.status !== 'submitted', updatedAt: new Date() },
        eq(anamnesisResponses.id, r.id),
      );
    }
  }

  async timelineItems(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    if (!can(ctx.actor, 'anamnesis:read')) return [];
    const rows = await this.joined(ctx.clinicId, eq(anamnesisResponses.contactId, contactId));
    if (rows.length > 0) await this.audit.record(ctx, { action: 'anamnesis.listed', entityType: 'anamnesis_response', contactId, details: { count: rows.length, via: 'timeline' } });
    return rows.map((j) => ({
      type: 'anamnesis',
      id: j.response.id,
      at: (j.response.submittedAt ?? j.response.createdAt).toISOString(),
      title: `Anamnese: ${j.templateName}`,
      data: { status: j.response.status, templateId: j.response.templateId },
    }));
  }
}
