import { and, asc, eq, isNull } from 'drizzle-orm';
import type { ReminderSettingsView } from '../../../shared/api/reminders.js';
import { appointmentReminders, contactWhatsappIds, whatsappNumbers, type ReminderKind } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import type { JobContext } from '../../infra/queue.js';
import { systemContext } from '../../http/context.js';
import { AppError } from '../../lib/errors.js';
import type { AiTemplateService } from '../ai/templates.js';
import type { ContactService } from '../contacts/service.js';
import type { ConversationService } from '../inbox/conversations.js';
import type { MessageService } from '../inbox/messages.js';
import type { AppointmentService } from '../scheduling/appointments.js';
import { REMINDED_STATUSES, reminderKey } from './scheduler.js';
import type { ReminderSettingsService } from './settings.js';
import { reminderTime } from './timing.js';

export interface ReminderJob {
  appointmentId: string;
  kind: ReminderKind;
  /** The start the job was added for (ISO): a moved appointment has other jobs. */
  startsAt: string;
  /** Waits so far for a connected number. */
  retry?: number;
}

/** The default template of every kind. */
export const DEFAULT_TEMPLATE_KEY = 'lembrete';
/** A number not connected: tried again this often, this many times, while the appointment is further than the margin. */
const NUMBER_RETRY_MS = 15 * 60_000;
const NUMBER_RETRIES = 4;
const NUMBER_RETRY_MARGIN_MS = 30 * 60_000;
/** A job this early (its time changed after it was added, or a timer fired early) waits for the time again. */
const EARLY_TOLERANCE_MS = 60_000;

interface Deps {
  settings: ReminderSettingsService;
  appointments: AppointmentService;
  contacts: ContactService;
  templates: AiTemplateService;
  conversations: ConversationService;
  messages: MessageService;
}

/**
 * The `reminders.send` job: checks the appointment is still as announced, renders the template and
 * sends through the inbox with the job's key as the message key, so a retry or a duplicate job sends once.
 * Every reason not to send is logged by code (never the text, never the patient's data).
 */
export class ReminderSender {
  constructor(
    private readonly infra: Infra,
    private readonly deps: Deps,
  ) {}

  /** `now` is the queue's clock; tests pass the instant they play. */
  async run(job: ReminderJob, ctx: JobContext, now = Date.now()): Promise<void> {
    const clinicId = ctx.clinicId;
    if (!clinicId) throw new Error('reminder job without a clinic');
    const startsAt = new Date(job.startsAt);
    const key = reminderKey(job.appointmentId, job.kind, startsAt);
    const skip = (reason: string) => ctx.log.info({ appointmentId: job.appointmentId, kind: job.kind, reason }, 'reminder not sent');

    const settings = await this.deps.settings.get(clinicId);
    if (!settings.enabled) return skip('disabled');
    const offset = settings.offsets.find((o) => o.kind === job.kind);
    if (!offset) return skip('kind_removed');
    const appointment = await this.deps.appointments.get(clinicId, job.appointmentId).catch((err: unknown) => {
      if (err instanceof AppError && err.status === 404) return undefined;
      throw err;
    });
    if (!appointment) return skip('appointment_deleted');
    if (appointment.startsAt.getTime() !== startsAt.getTime()) return skip('rescheduled');
    if (!(REMINDED_STATUSES as readonly string[]).includes(appointment.status)) return skip(`status_${appointment.status}`);
    if (startsAt.getTime() <= now) return skip('appointment_past');
    const time = reminderTime(startsAt, offset, settings.timezone, settings.quietHours);
    if ('skip' in time) return skip(time.skip);
    if (time.at.getTime() - now > EARLY_TOLERANCE_MS) {
      await this.infra.queue.add('reminders.send', job, { jobId: `${key}:at:${time.at.getTime()}`, delayMs: time.at.getTime() - now, context: { clinicId } });
      return;
    }

    const data = new ClinicData(clinicId, this.infra.db);
    const [sent] = await data.pick({ id: appointmentReminders.id }, appointmentReminders, eq(appointmentReminders.appointmentId, job.appointmentId), eq(appointmentReminders.kind, job.kind), eq(appointmentReminders.startsAt, startsAt));
    if (sent) return;
    if (!(await this.reachable(data, appointment.contactId))) return skip('no_whatsapp');
    const numberId = await this.number(data, settings, appointment.professionalId);
    if (!numberId) return this.waitForNumber(clinicId, job, key, now, skip);
    const rendered = await this.text(clinicId, offset.templateId, job.appointmentId);
    if ('skip' in rendered) return skip(rendered.skip);
    const { text } = rendered;

    const conversationId = await this.deps.conversations.ensure(clinicId, numberId, appointment.contactId);
    const sctx = systemContext(clinicId, 'reminders', ctx.requestId);
    let messageId: string;
    try {
      messageId = (await this.deps.messages.sendAutomated(sctx, conversationId, { sender: 'system', text, key })).message.id;
    } catch (err) {
      // Disconnected between the choice and the send, or WhatsApp not configured at all.
      if (err instanceof AppError && (err.code === 'number_not_connected' || err.code === 'integration_not_configured')) return this.waitForNumber(clinicId, job, key, now, skip);
      throw err;
    }
    await data
      .insert(appointmentReminders, { appointmentId: job.appointmentId, kind: job.kind, startsAt, conversationId, messageId })
      .onConflictDoNothing();
    ctx.log.info({ appointmentId: job.appointmentId, kind: job.kind, messageId, movedByQuietHours: time.movedByQuietHours }, 'reminder sent');
  }

  /** Not connected: again in 15 minutes, up to an hour, while the appointment is more than 30 minutes away; then skipped. */
  private async waitForNumber(clinicId: string, job: ReminderJob, key: string, now: number, skip: (reason: string) => void) {
    const retry = (job.retry ?? 0) + 1;
    if (retry > NUMBER_RETRIES || new Date(job.startsAt).getTime() - now - NUMBER_RETRY_MS < NUMBER_RETRY_MARGIN_MS) return skip('no_connected_number');
    skip('number_not_connected_retrying');
    await this.infra.queue.add('reminders.send', { ...job, retry }, { jobId: `${key}:retry:${retry}`, delayMs: NUMBER_RETRY_MS, context: { clinicId } });
  }

  /** A phone or a known WhatsApp address: what the send job needs to find the patient. */
  private async reachable(data: ClinicData, contactId: string) {
    const contact = await this.deps.contacts.get(data.clinicId, contactId).catch(() => undefined);
    if (!contact) return false;
    if (contact.phone) return true;
    const [jid] = await data.pick({ jid: contactWhatsappIds.jid }, contactWhatsappIds, eq(contactWhatsappIds.contactId, contactId)).limit(1);
    return Boolean(jid);
  }

  /** The chosen number if connected; else the professional's own connected number, else the first connected shared one. */
  private async number(data: ClinicData, settings: ReminderSettingsView, professionalId: string): Promise<string | undefined> {
    const open = eq(whatsappNumbers.state, 'open');
    if (settings.numberId) {
      const [chosen] = await data.pick({ id: whatsappNumbers.id }, whatsappNumbers, eq(whatsappNumbers.id, settings.numberId), open);
      return chosen?.id;
    }
    const [own] = await data.pick({ id: whatsappNumbers.id }, whatsappNumbers, eq(whatsappNumbers.professionalId, professionalId), open).orderBy(asc(whatsappNumbers.createdAt)).limit(1);
    if (own) return own.id;
    const [shared] = await data.pick({ id: whatsappNumbers.id }, whatsappNumbers, and(isNull(whatsappNumbers.professionalId), open)).orderBy(asc(whatsappNumbers.createdAt)).limit(1);
    return shared?.id;
  }

  /** The offset's template, or the default one (`lembrete`) when none is chosen or the chosen one was deleted. */
  private async text(clinicId: string, templateId: string | null, appointmentId: string): Promise<{ text: string } | { skip: string }> {
    const chosen = templateId ? await this.deps.templates.get(clinicId, templateId).catch(() => undefined) : undefined;
    const template = chosen ?? (await this.deps.templates.byKey(clinicId, DEFAULT_TEMPLATE_KEY));
    if (!template) return { skip: 'no_template' };
    try {
      return { text: (await this.deps.templates.render(clinicId, template.body, { appointmentId })).text };
    } catch (err) {
      // A variable without data (the clinic's address left blank): no message with a hole in it.
      if (err instanceof AppError && err.code === 'template_data_missing') return { skip: 'template_data_missing' };
      throw err;
    }
  }
}
