import { desc, eq, gt, inArray, lte } from 'drizzle-orm';
import { appointmentReminders, messages } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { systemContext } from '../../http/context.js';
import { AppError } from '../../lib/errors.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ConversationService } from '../inbox/conversations.js';
import type { MessageService } from '../inbox/messages.js';
import type { AppointmentService } from '../scheduling/appointments.js';
import { canMove } from '../scheduling/status.js';
import { parseReply, type ReminderReply } from './replies.js';

/** A reminder waits for its answer this long after it was sent (and never past the appointment's start). */
export const ANSWER_WINDOW_MS = 48 * 3600_000;

type ReminderRow = typeof appointmentReminders.$inferSelect;

interface Deps {
  audit: AuditService;
  clinic: ClinicService;
  appointments: AppointmentService;
  conversations: ConversationService;
  messages: MessageService;
}

/**
 * The patient's answer to a reminder: a text in the reminder's conversation, sent within the
 * window after it and before the appointment, that the parser reads as a confirmation or a
 * request to reschedule. Decided from the stored message and reminder rows only, so the claim
 * (asked by the assistant) and the handling agree whenever they run.
 */
export class ReminderAnswers {
  constructor(
    private readonly infra: Infra,
    private readonly deps: Deps,
  ) {}

  /** The messages' rows the rule reads, in one query. */
  private load(clinicId: string, messageIds: string[]) {
    return new ClinicData(clinicId, this.infra.db).pick(
      { id: messages.id, conversationId: messages.conversationId, direction: messages.direction, type: messages.type, text: messages.text, sentAt: messages.sentAt },
      messages,
      inArray(messages.id, messageIds),
    );
  }

  private async match(clinicId: string, message: Awaited<ReturnType<ReminderAnswers['load']>>[number]): Promise<{ reminder: ReminderRow; reply: ReminderReply; message: { id: string; conversationId: string } } | undefined> {
    if (message.direction !== 'inbound' || message.type !== 'text') return undefined;
    const reply = parseReply(message.text);
    if (!reply) return undefined;
    const [reminder] = await new ClinicData(clinicId, this.infra.db)
      .select(
        appointmentReminders,
        eq(appointmentReminders.conversationId, message.conversationId),
        lte(appointmentReminders.sentAt, message.sentAt),
        gt(appointmentReminders.sentAt, new Date(message.sentAt.getTime() - ANSWER_WINDOW_MS)),
        gt(appointmentReminders.startsAt, message.sentAt),
      )
      .orderBy(desc(appointmentReminders.sentAt))
      .limit(1);
    return reminder && { reminder, reply, message };
  }

  /** `provides.inboundClaims`: the message is an answer to a reminder (the assistant stays quiet). */
  async claims(clinicId: string, messageId: string): Promise<boolean> {
    const [message] = await this.load(clinicId, [messageId]);
    return Boolean(message && (await this.match(clinicId, message)));
  }

  /**
   * On `message.received`. A repeated answer does nothing; a changed one ("sim", then "não") is
   * applied too. Each step is safe to run again: a redelivered event finds the answer recorded by
   * this very message and only completes what is missing (the reply's key sends it once).
   */
  async handle(clinicId: string, received: { messageId: string; requestId: string | null }[]): Promise<void> {
    const requestOf = new Map(received.map((r) => [r.messageId, r.requestId]));
    // A claimed batch's messages in one query; only a text that reads as an answer looks for its reminder.
    for (const loaded of await this.load(clinicId, [...requestOf.keys()])) {
      const found = await this.match(clinicId, loaded);
      if (found) await this.apply(clinicId, found, requestOf.get(loaded.id) ?? null);
    }
  }

  private async apply(clinicId: string, { reminder, reply, message }: NonNullable<Awaited<ReturnType<ReminderAnswers['match']>>>, requestId: string | null): Promise<void> {
    if (reminder.answer === reply && reminder.answerMessageId !== message.id) return;
    const ctx = systemContext(clinicId, 'reminders', requestId);
    const appointment = await this.deps.appointments.get(clinicId, reminder.appointmentId).catch(() => undefined);
    await new ClinicData(clinicId, this.infra.db).transaction(async (data, tx) => {
      await data.update(appointmentReminders, { answer: reply, answerMessageId: message.id, answeredAt: new Date() }, eq(appointmentReminders.id, reminder.id));
      // Once per answering message: a redelivered event finds it recorded.
      if (reminder.answerMessageId === message.id) return;
      await this.deps.audit.record(ctx, { action: 'appointment_reminder.answered', entityType: 'appointment', entityId: reminder.appointmentId, details: { answer: reply, kind: reminder.kind } }, tx);
      if (reply === 'reschedule' && appointment) {
        const { id, contactId, professionalId, startsAt } = appointment;
        await this.infra.events.publish(tx, 'appointment.reschedule_requested', { appointmentId: id, contactId, professionalId, startsAt: startsAt.toISOString(), conversationId: message.conversationId }, ctx);
      }
    });
    const confirmable = appointment && (appointment.status === 'confirmed' || canMove(appointment.status, 'confirmed'));
    if (reply === 'confirm' && appointment && confirmable) {
      if (appointment.status !== 'confirmed') await this.deps.appointments.changeStatus(ctx, appointment.id, { status: 'confirmed' });
      return this.reply(ctx, message.conversationId, `${reminder.id}:confirm`, await this.confirmedText(clinicId, appointment.startsAt));
    }
    // To reschedule, or a confirmation the appointment no longer takes (cancelled meanwhile): the staff takes over.
    await this.deps.conversations.update({ clinicId, userId: null, admin: true }, ctx, message.conversationId, { status: 'pending' });
    const text = reply === 'reschedule' ? 'Tudo bem! Nossa equipe vai falar com você por aqui para remarcar a sua consulta.' : 'Recebemos sua resposta. Nossa equipe vai falar com você por aqui.';
    return this.reply(ctx, message.conversationId, `${reminder.id}:${reply}`, text);
  }

  private async reply(ctx: ReturnType<typeof systemContext>, conversationId: string, key: string, text: string) {
    try {
      await this.deps.messages.sendAutomated(ctx, conversationId, { sender: 'system', text, key: `reminder-answer:${key}` });
    } catch (err) {
      // The number went offline since the patient wrote: the answer is recorded, the staff sees it.
      if (err instanceof AppError && (err.code === 'number_not_connected' || err.code === 'integration_not_configured')) return;
      throw err;
    }
  }

  private async confirmedText(clinicId: string, startsAt: Date) {
    const { timezone } = await this.deps.clinic.get(clinicId);
    const date = new Intl.DateTimeFormat('pt-BR', { timeZone: timezone, day: '2-digit', month: '2-digit' }).format(startsAt);
    const time = new Intl.DateTimeFormat('pt-BR', { timeZone: timezone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(startsAt);
    return `Obrigado! Sua consulta do dia ${date}, às ${time}, está confirmada.`;
  }
}
