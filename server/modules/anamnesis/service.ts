import { and, desc, eq, ne } from 'drizzle-orm';
import type { z } from 'zod';
import type { publicAnswer, Question } from '../../../shared/api/anamnesis.js';
import { anamnesisResponses, anamnesisTemplates } from '../../../shared/schema/index.js';
import type { Infra } from '../../infra/index.js';
import type { Tx } from '../../infra/db.js';
import type { BaseContext, TenantContext } from '../../http/context.js';
import { actorUserId } from '../../http/context.js';
import { AppError, badRequest, conflict, notFound } from '../../http/errors.js';
import { can } from '../../http/permissions.js';
import { hashToken, randomToken } from '../../lib/tokens.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { TimelineItem } from '../contacts/timeline.js';
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

export class AnamnesisService {
  constructor(
    private readonly infra: Infra,
    private readonly audit: AuditService,
    private readonly contacts: ContactService,
    private readonly templates: TemplateService,
    private readonly clinics: ClinicService,
  ) {}

  private joined(db: Infra['db'] | Tx = this.infra.db) {
    return db.select(responseColumns).from(anamnesisResponses).innerJoin(anamnesisTemplates, eq(anamnesisTemplates.id, anamnesisResponses.templateId));
  }

  async send(ctx: TenantContext, contactId: string, templateId: string) {
    await this.contacts.get(ctx.clinicId, contactId);
    const template = await this.templates.row(ctx.clinicId, templateId, { current: true });
    const token = randomToken();
    const expiresAt = new Date(Date.now() + LINK_DAYS * DAY_MS);
    const row = await this.infra.db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(anamnesisResponses)
        .values({ clinicId: ctx.clinicId, contactId, templateId: template.id, tokenHash: hashToken(token), expiresAt, sentBy: actorUserId(ctx) })
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
    const rows = await this.joined()
      .where(and(eq(anamnesisResponses.clinicId, ctx.clinicId), eq(anamnesisResponses.contactId, contactId)))
      .orderBy(desc(anamnesisResponses.createdAt));
    await this.audit.record(ctx, { action: 'anamnesis.listed', entityType: 'anamnesis_response', contactId, details: { count: rows.length } });
    return { items: rows.map(summary), nextCursor: null };
  }

  async get(ctx: TenantContext, id: string) {
    const [row] = await this.joined().where(and(eq(anamnesisResponses.clinicId, ctx.clinicId), eq(anamnesisResponses.id, id)));
    if (!row) throw notFound('Anamnesis');
    await this.audit.record(ctx, { action: 'anamnesis.viewed', entityType: 'anamnesis_response', entityId: id, contactId: row.response.contactId });
    return detail(row);
  }

  /** Wrong or revoked token: 404; expired: 410; already submitted: 409. Nothing else is revealed. */
  private async byToken(token: string) {
    const [row] = await this.joined().where(eq(anamnesisResponses.tokenHash, hashToken(token)));
    if (!row || row.response.revoked) throw notFound('Form');
    if (row.response.status === 'submitted') throw alreadySubmitted();
    if (row.response.expiresAt.getTime() < Date.now()) throw new AppError(410, 'anamnesis_expired', 'Este link expirou; peça um novo à clínica');
    return row;
  }

  async publicForm(token: string) {
    const row = await this.byToken(token);
    const clinic = await this.clinics.get(row.response.clinicId);
    return {
      clinicName: clinic.name,
      templateName: row.templateName,
      questions: row.questions as Question[],
      answers: row.response.answers,
      status: row.response.status,
      expiresAt: row.response.expiresAt.toISOString(),
      consent: { version: CONSENT_VERSION, text: CONSENT_TEXT, given: row.response.consentAt !== null },
    };
  }

  async publicAnswer(ctx: BaseContext, token: string, input: z.infer<typeof publicAnswer>) {
    const row = await this.byToken(token);
    const r = row.response;
    if (input.consent && input.consent.version !== CONSENT_VERSION) throw badRequest('consent_version_mismatch', 'Recarregue o formulário para ler o termo atual');
    if (!r.consentAt && !input.consent) throw new AppError(422, 'consent_required', 'É preciso aceitar o termo de consentimento antes de responder');
    const answers = mergeAnswers(row.questions as Question[], r.answers, input.answers, input.submit);
    const now = new Date();
    const consent = !r.consentAt && input.consent ? { consentVersion: input.consent.version, consentAt: now, consentIp: ctx.ip ?? null } : {};
    const submitted = input.submit ? { status: 'submitted' as const, submittedAt: now, submittedIp: ctx.ip ?? null } : { status: 'in_progress' as const };
    await this.infra.db.transaction(async (tx) => {
      // The status guard makes the final submission happen once even under concurrent posts.
      const [updated] = await tx
        .update(anamnesisResponses)
        .set({ answers, ...consent, ...submitted, updatedAt: now })
        .where(and(eq(anamnesisResponses.id, r.id), ne(anamnesisResponses.status, 'submitted')))
        .returning({ id: anamnesisResponses.id });
      if (!updated) throw alreadySubmitted();
      const scope = { clinicId: r.clinicId, actor: null, ip: ctx.ip, userAgent: ctx.userAgent };
      const action = input.submit ? 'anamnesis.submitted' : 'anamnesis.saved';
      await this.audit.record(scope, { action, entityType: 'anamnesis_response', entityId: r.id, contactId: r.contactId, details: { answered: Object.keys(answers).length, consentGiven: 'consentAt' in consent } }, tx);
      if (input.submit) await this.infra.events.publish(tx, 'anamnesis.submitted', { id: r.id, contactId: r.contactId }, { clinicId: r.clinicId, requestId: ctx.requestId });
    });
    return { status: submitted.status, submittedAt: input.submit ? now.toISOString() : null };
  }

  /** Every response with its answers, for the LGPD export (the caller audits). */
  /** Whether the patient was ever sent a form: such a patient is only ever soft-deleted. */
  async hasResponses(clinicId: string, contactId: string): Promise<boolean> {
    const [row] = await this.infra.db
      .select({ id: anamnesisResponses.id })
      .from(anamnesisResponses)
      .where(and(eq(anamnesisResponses.clinicId, clinicId), eq(anamnesisResponses.contactId, contactId)))
      .limit(1);
    return Boolean(row);
  }

  async exportFor(ctx: TenantContext, contactId: string) {
    const rows = await this.joined().where(and(eq(anamnesisResponses.clinicId, ctx.clinicId), eq(anamnesisResponses.contactId, contactId))).orderBy(desc(anamnesisResponses.createdAt));
    return rows.map(detail);
  }

  /** Open links stop working once a patient is anonymised. */
  async revokeLinks(tx: Tx, clinicId: string, contactId: string) {
    await tx
      .update(anamnesisResponses)
      .set({ revoked: true, updatedAt: new Date() })
      .where(and(eq(anamnesisResponses.clinicId, clinicId), eq(anamnesisResponses.contactId, contactId), ne(anamnesisResponses.status, 'submitted')));
  }

  async timelineItems(ctx: TenantContext, contactId: string): Promise<TimelineItem[]> {
    if (!can(ctx.actor, 'anamnesis:read')) return [];
    const rows = await this.joined().where(and(eq(anamnesisResponses.clinicId, ctx.clinicId), eq(anamnesisResponses.contactId, contactId)));
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
