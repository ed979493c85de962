import { eq } from 'drizzle-orm';
import { appointmentReminders, appointments } from '../../../shared/schema/index.js';
import { ClinicData } from '../../infra/clinic-data.js';
import type { Infra } from '../../infra/index.js';
import { defineJob } from '../../infra/queue.js';
import type { AiTemplateService } from '../ai/templates.js';
import type { AuditService } from '../audit/service.js';
import type { ClinicService } from '../clinic/service.js';
import type { ContactService } from '../contacts/service.js';
import type { ConversationService } from '../inbox/conversations.js';
import type { MessageService } from '../inbox/messages.js';
import { groupBy } from '../../lib/group-by.js';
import { defineSubscriber, type Module } from '../module.js';
import type { Scheduling } from '../scheduling/module.js';
import { ReminderAnswers } from './answers.js';
import { reminderRoutes } from './routes.js';
import { ReminderScheduler, SWEEP_EVERY_MS } from './scheduler.js';
import { ReminderSender, type ReminderJob } from './send.js';
import { ReminderSettingsService } from './settings.js';

declare module '../../infra/queue.js' {
  interface JobMap {
    'reminders.send': ReminderJob;
    'reminders.sweep': Record<string, never>;
  }
}

export interface Reminders {
  settings: ReminderSettingsService;
  scheduler: ReminderScheduler;
  sender: ReminderSender;
  answers: ReminderAnswers;
}

/** Appointment reminders over WhatsApp and the patient's answer to them (docs/reminders.md). */
export function remindersModule(
  infra: Infra,
  deps: {
    audit: AuditService;
    clinic: ClinicService;
    contacts: ContactService;
    scheduling: Scheduling;
    aiTemplates: AiTemplateService;
    inbox: { conversations: ConversationService; messages: MessageService };
  },
): Module<{ reminders: Reminders }> {
  const settings = new ReminderSettingsService(infra, deps.audit, deps.clinic);
  const scheduler = new ReminderScheduler(infra, settings);
  const appointmentService = deps.scheduling.appointments;
  const sender = new ReminderSender(infra, { settings, appointments: appointmentService, contacts: deps.contacts, templates: deps.aiTemplates, ...deps.inbox });
  const answers = new ReminderAnswers(infra, { audit: deps.audit, clinic: deps.clinic, appointments: appointmentService, ...deps.inbox });
  return {
    name: 'reminders',
    services: { reminders: { settings, scheduler, sender, answers } },
    routes: reminderRoutes(settings),
    jobs: [
      defineJob({ name: 'reminders.send', queue: 'default', handler: (d, job) => sender.run(d, job) }),
      defineJob({ name: 'reminders.sweep', queue: 'maintenance', everyMs: SWEEP_EVERY_MS, handler: (_d, job) => scheduler.sweep(job) }),
    ],
    subscribers: [
      // Created or moved: the jobs of the new start (cancelled and deleted ones are seen by the job itself).
      defineSubscriber({
        name: 'reminders-schedule',
        events: ['appointment.created', 'appointment.updated'],
        handle: async (event) => {
          await scheduler.schedule(event.clinicId, { id: event.payload.id, startsAt: new Date(event.payload.startsAt), status: event.payload.status }, { requestId: event.requestId });
        },
      }),
      defineSubscriber({
        name: 'reminders-answers',
        events: ['message.received'],
        handle: (event) => answers.handle(event.clinicId, [{ messageId: event.payload.id, requestId: event.requestId }]),
        handleBatch: async (events) => {
          for (const [clinicId, list] of groupBy(events, (e) => e.clinicId)) await answers.handle(clinicId, list.map((e) => ({ messageId: e.payload.id, requestId: e.requestId })));
        },
      }),
    ],
    provides: {
      inboundClaims: [(clinicId, messageId) => answers.claims(clinicId, messageId)],
      timeline: {
        appointment_reminder: async (ctx, contactId) => {
          const data = new ClinicData(ctx.clinicId, infra.db);
          const rows = await data
            .pick(
              { id: appointmentReminders.id, appointmentId: appointmentReminders.appointmentId, kind: appointmentReminders.kind, startsAt: appointmentReminders.startsAt, sentAt: appointmentReminders.sentAt, answer: appointmentReminders.answer, answeredAt: appointmentReminders.answeredAt, messageId: appointmentReminders.messageId },
              appointmentReminders,
              eq(appointments.contactId, contactId),
            )
            .innerJoin(appointments, data.owns(appointments, eq(appointments.id, appointmentReminders.appointmentId)));
          return rows.map((r) => ({
            type: 'appointment_reminder',
            id: r.id,
            at: r.sentAt.toISOString(),
            title: 'Lembrete de consulta enviado',
            data: { appointmentId: r.appointmentId, kind: r.kind, startsAt: r.startsAt.toISOString(), messageId: r.messageId, answer: r.answer, answeredAt: r.answeredAt?.toISOString() ?? null },
          }));
        },
      },
    },
  };
}
