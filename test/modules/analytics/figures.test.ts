import { beforeAll, describe, expect, it } from 'vitest';
import { seedAnalyticsClinic, type SeededClinic } from './seed.js';

/**
 * Every figure of every report for the seeded Manaus clinic (seed.ts), worked out by hand from
 * the rows there. Period 2026-03-02..08 (Mon-Sun), previous 2026-02-23..03-01.
 */
type Side = { total: Record<string, unknown>; byProfessional: ({ professionalId: string } & Record<string, unknown>)[] };
type Body = { timezone: string; period: unknown; previousPeriod: unknown; current: Side; previous: Side };

let s: SeededClinic;
const RANGE = { from: '2026-03-02', to: '2026-03-08' };
const get = async (report: string, query: Record<string, string> = {}) => {
  const res = await s.clinic.admin.agent.get(`/api/analytics/${report}`).query({ ...RANGE, ...query });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Body;
};
const row = (side: Side, id: string) => {
  const found = side.byProfessional.find((r) => r.professionalId === id);
  if (!found) throw new Error(`no row for ${id}`);
  const { professionalId: _id, name: _name, ...figures } = found;
  return figures;
};
const statuses = (counts: Partial<Record<string, number>>) => ({ scheduled: 0, confirmed: 0, arrived: 0, in_progress: 0, completed: 0, no_show: 0, cancelled: 0, ...counts });

beforeAll(async () => {
  s = await seedAnalyticsClinic();
}, 120_000);

describe('analytics figures of a seeded clinic', () => {
  it('appointments: statuses, no-show and confirmation rates, occupancy, by local day in Manaus', async () => {
    const r = await get('appointments');
    expect(r.timezone).toBe('America/Manaus');
    expect(r.period).toEqual({ from: '2026-03-02', to: '2026-03-08' });
    expect(r.previousPeriod).toEqual({ from: '2026-02-23', to: '2026-03-01' });
    // Working time: Mon-Fri 08-18 (600 min), Wed closed, Thu 17-19 clinic block (60 min inside hours), P blocked Tue 10-12.
    // P: 4 x 600 - 120 - 60 = 2220; D: 4 x 600 - 60 = 2340. Previous week: 5 x 600 each.
    // Current: 8 appointments (F's Sunday 23:30 is 2026-03-09 in UTC but counts here); booked = 60+45+30+30+20+30 (no cancelled, no no-show).
    expect(r.current.total).toEqual({
      total: 8,
      byStatus: statuses({ completed: 4, confirmed: 1, scheduled: 1, no_show: 1, cancelled: 1 }),
      noShowRate: 1 / 7,
      confirmationRate: 5 / 7,
      bookedMinutes: 215,
      workingMinutes: 4560,
      occupancy: 215 / 4560,
    });
    expect(row(r.current, s.P)).toEqual({ total: 3, byStatus: statuses({ completed: 2, confirmed: 1 }), noShowRate: 0, confirmationRate: 1, bookedMinutes: 120, workingMinutes: 2220, occupancy: 120 / 2220 });
    expect(row(r.current, s.D)).toEqual({
      total: 5,
      byStatus: statuses({ completed: 2, scheduled: 1, no_show: 1, cancelled: 1 }),
      noShowRate: 1 / 4,
      confirmationRate: 2 / 4,
      bookedMinutes: 95,
      workingMinutes: 2340,
      occupancy: 95 / 2340,
    });
    // Previous: G's 2026-02-22 23:30 (2026-02-23 in UTC) is outside; C's 2026-03-01 23:30 (2026-03-02 in UTC) inside.
    expect(r.previous.total).toEqual({ total: 3, byStatus: statuses({ completed: 2, no_show: 1 }), noShowRate: 1 / 3, confirmationRate: 2 / 3, bookedMinutes: 60, workingMinutes: 6000, occupancy: 0.01 });
    expect(row(r.previous, s.P)).toEqual({ total: 2, byStatus: statuses({ completed: 2 }), noShowRate: 0, confirmationRate: 1, bookedMinutes: 60, workingMinutes: 3000, occupancy: 0.02 });
    expect(row(r.previous, s.D)).toEqual({ total: 1, byStatus: statuses({ no_show: 1 }), noShowRate: 1, confirmationRate: 0, bookedMinutes: 0, workingMinutes: 3000, occupancy: 0 });
    // Only the clinic's professionals: the admin and the receptionist have no agenda.
    expect(r.current.byProfessional.map((p) => p.professionalId).sort()).toEqual([s.P, s.D].sort());
  });

  it('contacts: new and returning patients, each counted once in the total', async () => {
    const r = await get('contacts');
    // A returns (February), C returns (2026-03-01 23:30 local, previous period), B is new (her February visit was a no-show), E and F are new.
    expect(r.current.total).toEqual({ patients: 5, newPatients: 3, returningPatients: 2 });
    expect(row(r.current, s.P)).toEqual({ patients: 3, newPatients: 1, returningPatients: 2 });
    expect(row(r.current, s.D)).toEqual({ patients: 3, newPatients: 2, returningPatients: 1 });
    expect(r.previous.total).toEqual({ patients: 2, newPatients: 2, returningPatients: 0 });
    expect(row(r.previous, s.P)).toEqual({ patients: 2, newPatients: 2, returningPatients: 0 });
    expect(row(r.previous, s.D)).toEqual({ patients: 0, newPatients: 0, returningPatients: 0 });
  });

  it('revenue: completed appointments x price, paid, pending, waived', async () => {
    const r = await get('revenue');
    const zero = { completed: 0, unpriced: 0, revenueCents: 0, paidCents: 0, pendingCents: 0, waivedCents: 0, refundedCents: 0 };
    expect(r.current.total).toEqual({ ...zero, completed: 4, unpriced: 1, revenueCents: 30_000, paidCents: 30_000, waivedCents: 8_000 });
    expect(row(r.current, s.P)).toEqual({ ...zero, completed: 2, unpriced: 1, revenueCents: 10_000, paidCents: 10_000 });
    expect(row(r.current, s.D)).toEqual({ ...zero, completed: 2, revenueCents: 20_000, paidCents: 20_000, waivedCents: 8_000 });
    expect(r.previous.total).toEqual({ ...zero, completed: 2, revenueCents: 25_000, paidCents: 10_000, pendingCents: 15_000 });
    expect(row(r.previous, s.P)).toEqual({ ...zero, completed: 2, revenueCents: 25_000, paidCents: 10_000, pendingCents: 15_000 });
    expect(row(r.previous, s.D)).toEqual(zero);
  });

  it('pipeline: conversion per stage of the period’s opportunities, median time in stage of the stays that ended in it', async () => {
    const r = await get('pipeline');
    const { S1, S2, S3 } = s.stages;
    const stage = (stageId: string, name: string, reached: number, conversion: number | null, medianSecondsInStage: number | null, stays: number) => ({ stageId, name, reached, conversion, medianSecondsInStage, stays });
    const day = 86_400;
    // Current cohort: A's (P, won: 1 day in S1, 2 in S2, 1 in S3), B's (D, lost after 6 h in S1), C's (no owner, created 23:30 Sunday local).
    // E's (P, from February) left S1 after 5 days on 2026-03-02: its stay ends in this period.
    expect(r.current.total).toEqual({
      created: 3,
      won: 1,
      lost: 1,
      winRate: 1 / 3,
      stages: [stage(S1, 'Novo contato', 3, 1, day, 3), stage(S2, 'Agendado', 1, 1 / 3, 2 * day, 1), stage(S3, 'Em tratamento', 1, 1 / 3, day, 1)],
    });
    expect(row(r.current, s.P)).toEqual({
      created: 1,
      won: 1,
      lost: 0,
      winRate: 1,
      stages: [stage(S1, 'Novo contato', 1, 1, (day + 5 * day) / 2, 2), stage(S2, 'Agendado', 1, 1, 2 * day, 1), stage(S3, 'Em tratamento', 1, 1, day, 1)],
    });
    expect(row(r.current, s.D)).toEqual({
      created: 1,
      won: 0,
      lost: 1,
      winRate: 0,
      stages: [stage(S1, 'Novo contato', 1, 1, 6 * 3600, 1), stage(S2, 'Agendado', 0, 0, null, 0), stage(S3, 'Em tratamento', 0, 0, null, 0)],
    });
    // Previous cohort: E's (P, S1 then S2 in March) and F's (D, created in S2, one day, then S1).
    expect(r.previous.total).toEqual({
      created: 2,
      won: 0,
      lost: 0,
      winRate: 0,
      stages: [stage(S1, 'Novo contato', 2, 1, null, 0), stage(S2, 'Agendado', 2, 1, day, 1), stage(S3, 'Em tratamento', 0, 0, null, 0)],
    });
    expect(row(r.previous, s.P)).toEqual({
      created: 1,
      won: 0,
      lost: 0,
      winRate: 0,
      stages: [stage(S1, 'Novo contato', 1, 1, null, 0), stage(S2, 'Agendado', 1, 1, null, 0), stage(S3, 'Em tratamento', 0, 0, null, 0)],
    });
    expect(row(r.previous, s.D)).toEqual({
      created: 1,
      won: 0,
      lost: 0,
      winRate: 0,
      stages: [stage(S1, 'Novo contato', 1, 1, null, 0), stage(S2, 'Agendado', 1, 1, day, 1), stage(S3, 'Em tratamento', 0, 0, null, 0)],
    });
  });

  it('messaging: volume, median first response (people and assistant apart), AI handoffs', async () => {
    const r = await get('messaging');
    const member = { inbound: null, aiResponses: null, aiConversations: null, aiHandoffs: null, aiHandoffRate: null, medianFirstResponseSecondsAi: null };
    const sent = (counts: Partial<Record<'user' | 'phone' | 'ai' | 'system', number>>) => ({ user: 0, phone: 0, ai: 0, system: 0, ...counts });
    // Waits: X 09:00 -> AI 09:01 (60 s); X 09:05 -> R 09:08 (180 s); X 09:20 -> phone 09:30 (600 s; the system's 09:21 is no answer);
    // Y Sunday 23:50 -> AI 00:00:30 Monday (630 s, after the period but answering it). A person wrote after the AI in X, but the
    // assistant handed nothing over: no handoff.
    expect(r.current.total).toEqual({
      inbound: 5,
      outbound: 6,
      outboundBySender: sent({ user: 2, phone: 1, ai: 1, system: 2 }),
      medianFirstResponseSecondsHuman: (180 + 600) / 2,
      medianFirstResponseSecondsAi: (60 + 630) / 2,
      humanResponses: 2,
      aiResponses: 2,
      aiConversations: 1,
      aiHandoffs: 0,
      aiHandoffRate: 0,
    });
    expect(row(r.current, s.R)).toEqual({ ...member, outbound: 1, outboundBySender: sent({ user: 1 }), medianFirstResponseSecondsHuman: 180, humanResponses: 1 });
    expect(row(r.current, s.D)).toEqual({ ...member, outbound: 1, outboundBySender: sent({ user: 1 }), medianFirstResponseSecondsHuman: null, humanResponses: 0 });
    expect(row(r.current, s.P)).toEqual({ ...member, outbound: 0, outboundBySender: sent({}), medianFirstResponseSecondsHuman: null, humanResponses: 0 });
    // Previous: AI answers in 10, 50 and 30 s, P in 120 s; the assistant handed Z (keyword) and W (emergency) to the staff.
    expect(r.previous.total).toEqual({
      inbound: 4,
      outbound: 4,
      outboundBySender: sent({ user: 1, ai: 3 }),
      medianFirstResponseSecondsHuman: 120,
      medianFirstResponseSecondsAi: 30,
      humanResponses: 1,
      aiResponses: 3,
      aiConversations: 2,
      aiHandoffs: 2,
      aiHandoffRate: 1,
    });
    expect(row(r.previous, s.P)).toEqual({ ...member, outbound: 1, outboundBySender: sent({ user: 1 }), medianFirstResponseSecondsHuman: 120, humanResponses: 1 });
  });

  it('one professional: their row becomes the total and the only row', async () => {
    const r = await get('appointments', { professionalId: s.P });
    expect(r.current.total).toMatchObject({ total: 3, bookedMinutes: 120, workingMinutes: 2220 });
    expect(r.current.byProfessional.map((p) => p.professionalId)).toEqual([s.P]);
    expect(r.previous.total).toMatchObject({ total: 2, workingMinutes: 3000 });
  });

  it('the dashboard holds every report for an admin', async () => {
    const res = await s.clinic.admin.agent.get('/api/analytics/dashboard').query(RANGE);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['appointments', 'contacts', 'messaging', 'pipeline', 'revenue']);
    expect(res.body.appointments.current.total.total).toBe(8);
    expect(res.body.revenue.current.total.revenueCents).toBe(30_000);
  });
});
