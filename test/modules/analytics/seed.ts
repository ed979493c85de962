import { randomUUID } from 'node:crypto';
import { appointments, clinicHolidays, conversations, messages, opportunities, opportunityHistory, pipelineStages, scheduleBlocks } from '../../../shared/schema/index.js';
import { ClinicData } from '../../../server/infra/clinic-data.js';
import { createClinic } from '../../helpers/clinic.js';
import { seedNumber } from '../../helpers/inbox.js';
import { createPatient } from '../../helpers/patients.js';

/** Manaus is UTC-4 all year: 23:30 there is 03:30 UTC of the next day. */
export const TZ = 'America/Manaus';
export const at = (local: string) => new Date(`${local}-04:00`);

/**
 * A clinic in Manaus whose figures for 2026-03-02..2026-03-08 (previous: 2026-02-23..2026-03-01)
 * are worked out by hand in analytics.test.ts. P = the professional, D = the doctor-admin, R = the
 * receptionist; patients A, B, C, E, F, G.
 */
export async function seedAnalyticsClinic() {
  const clinic = await createClinic({ timezone: TZ });
  const data = new ClinicData(clinic.id, clinic.app.infra.db);
  const [A, B, C, E, F, G] = await Promise.all(['Ana', 'Bruno', 'Cecília', 'Édson', 'Fábio', 'Gil'].map((name) => createPatient(clinic, { name })));
  const P = clinic.professional.id;
  const D = clinic.doctorAdmin.id;

  // Working time: P blocked Tue 10-12, the clinic closed Wed (local holiday), a clinic-wide block Thu 17-19 (one hour inside hours).
  await data.insert(scheduleBlocks, [
    { professionalId: P, startsAt: at('2026-03-03T10:00:00'), endsAt: at('2026-03-03T12:00:00') },
    { professionalId: null, startsAt: at('2026-03-05T17:00:00'), endsAt: at('2026-03-05T19:00:00') },
  ]);
  await data.insert(clinicHolidays, { date: '2026-03-04', name: 'Feriado municipal', open: false });

  type Appt = [contact: string, pro: string, start: string, minutes: number, status: (typeof appointments.$inferInsert)['status'], price: number | null, payment?: 'paid' | 'pending' | 'waived'];
  const appts: Appt[] = [
    // Before the previous period in local time, inside it in UTC (2026-02-23T03:30Z).
    [G!.id, P, '2026-02-22T23:30:00', 30, 'completed', 99_900, 'paid'],
    // Previous period.
    [A!.id, P, '2026-02-24T09:00:00', 30, 'completed', 10_000, 'paid'],
    [B!.id, D, '2026-02-25T10:00:00', 60, 'no_show', 20_000, 'pending'],
    // Last local day of the previous period; 2026-03-02 in UTC.
    [C!.id, P, '2026-03-01T23:30:00', 30, 'completed', 15_000, 'pending'],
    // Current period.
    [A!.id, P, '2026-03-02T09:00:00', 60, 'completed', 10_000, 'paid'],
    [B!.id, D, '2026-03-03T14:00:00', 45, 'completed', 20_000, 'paid'],
    [E!.id, P, '2026-03-05T11:00:00', 30, 'confirmed', null],
    [E!.id, D, '2026-03-06T08:00:00', 60, 'cancelled', null],
    // Last local day of the current period; 2026-03-09 in UTC.
    [F!.id, D, '2026-03-08T23:30:00', 30, 'scheduled', null],
    [C!.id, D, '2026-03-06T10:00:00', 30, 'no_show', 5_000, 'pending'],
    [A!.id, D, '2026-03-02T15:00:00', 20, 'completed', 8_000, 'waived'],
    [C!.id, P, '2026-03-06T16:00:00', 30, 'completed', null],
    // After the current period.
    [G!.id, P, '2026-03-09T00:10:00', 30, 'scheduled', 50_000],
  ];
  await data.insert(
    appointments,
    appts.map(([contactId, professionalId, start, minutes, status, priceCents, paymentStatus]) => ({
      contactId,
      professionalId,
      startsAt: at(start),
      endsAt: new Date(at(start).getTime() + minutes * 60_000),
      status,
      priceCents,
      paymentStatus: paymentStatus ?? 'pending',
    })),
  );

  // Pipeline: three stages of the clinic's own.
  const stages = await data
    .insert(pipelineStages, [
      { name: 'Novo contato', color: '#111111', sortOrder: 0 },
      { name: 'Agendado', color: '#222222', sortOrder: 1 },
      { name: 'Em tratamento', color: '#333333', sortOrder: 2 },
    ])
    .returning();
  const [S1, S2, S3] = stages.map((s) => s.id) as [string, string, string];
  type Step = [kind: 'created' | 'moved' | 'won' | 'lost', to: string | null, local: string];
  const opportunity = async (contactId: string, ownerId: string | null, status: 'open' | 'won' | 'lost', steps: Step[]) => {
    const last = steps.at(-1)!;
    const stageId = [...steps].reverse().find((s) => s[1])![1]!;
    const [row] = await data
      .insert(opportunities, {
        contactId,
        ownerId,
        stageId,
        position: `a${randomUUID().slice(0, 6)}`,
        title: 'Tratamento',
        status,
        lostReason: status === 'lost' ? 'Preço' : null,
        closedAt: status === 'open' ? null : at(last[2]),
        createdAt: at(steps[0]![2]),
      })
      .returning();
    let from: string | null = null;
    for (const [kind, to, local] of steps) {
      await data.insert(opportunityHistory, { opportunityId: row!.id, contactId, kind, fromStageId: from, toStageId: to, source: 'user', at: at(local) });
      from = to ?? from;
    }
  };
  await opportunity(A!.id, P, 'won', [
    ['created', S1, '2026-03-02T10:00:00'],
    ['moved', S2, '2026-03-03T10:00:00'],
    ['moved', S3, '2026-03-05T10:00:00'],
    ['won', null, '2026-03-06T10:00:00'],
  ]);
  await opportunity(B!.id, D, 'lost', [
    ['created', S1, '2026-03-04T12:00:00'],
    ['lost', null, '2026-03-04T18:00:00'],
  ]);
  await opportunity(C!.id, null, 'open', [['created', S1, '2026-03-08T23:30:00']]);
  await opportunity(E!.id, P, 'open', [
    ['created', S1, '2026-02-25T09:00:00'],
    ['moved', S2, '2026-03-02T09:00:00'],
  ]);
  await opportunity(F!.id, D, 'open', [
    ['created', S2, '2026-02-26T08:00:00'],
    ['moved', S1, '2026-02-27T08:00:00'],
  ]);

  // WhatsApp: four conversations on one number.
  const number = await seedNumber(clinic);
  const conversation = async (contactId: string) => (await data.insert(conversations, { numberId: number.id, contactId }).returning())[0]!.id;
  const [X, Y, Z, W] = await Promise.all([A, B, C, E].map((c) => conversation(c!.id)));
  // `handoff`: the assistant's message handing the conversation to a person (its reason, as the assistant records it in `meta`).
  type Msg = [conversation: string, sender: 'contact' | 'user' | 'phone' | 'ai' | 'system', local: string, author?: string, handoff?: string];
  const R = clinic.receptionist.id;
  const msgs: Msg[] = [
    [X!, 'contact', '2026-03-02T09:00:00'],
    [X!, 'contact', '2026-03-02T09:00:20'],
    [X!, 'ai', '2026-03-02T09:01:00'],
    [X!, 'contact', '2026-03-02T09:05:00'],
    [X!, 'user', '2026-03-02T09:08:00', R],
    [X!, 'system', '2026-03-02T09:10:00'],
    [X!, 'contact', '2026-03-02T09:20:00'],
    [X!, 'system', '2026-03-02T09:21:00'],
    [X!, 'phone', '2026-03-02T09:30:00'],
    [X!, 'user', '2026-03-02T09:40:00', D],
    // Asked on the last local day, answered after the period.
    [Y!, 'contact', '2026-03-08T23:50:00'],
    [Y!, 'ai', '2026-03-09T00:00:30'],
    [Z!, 'contact', '2026-02-27T10:00:00'],
    [Z!, 'ai', '2026-02-27T10:00:10'],
    [Z!, 'contact', '2026-02-27T10:05:00'],
    [Z!, 'ai', '2026-02-27T10:05:50', undefined, 'keyword'],
    [Z!, 'contact', '2026-02-27T11:00:00'],
    [Z!, 'user', '2026-02-27T11:02:00', P],
    [W!, 'contact', '2026-02-28T10:00:00'],
    [W!, 'ai', '2026-02-28T10:00:30', undefined, 'emergency'],
  ];
  await data.insert(
    messages,
    msgs.map(([conversationId, sender, local, author, handoff]) => ({
      conversationId,
      numberId: number.id,
      direction: sender === 'contact' ? ('inbound' as const) : ('outbound' as const),
      sender,
      authorUserId: author ?? null,
      type: 'text' as const,
      text: 'Olá',
      status: 'delivery_ack' as const,
      sentAt: at(local),
      meta: handoff ? { handoff } : null,
    })),
  );
  return { clinic, P, D, R, patients: { A: A!, B: B!, C: C!, E: E!, F: F!, G: G! }, stages: { S1, S2, S3 } };
}

export type SeededClinic = Awaited<ReturnType<typeof seedAnalyticsClinic>>;
