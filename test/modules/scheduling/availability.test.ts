import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Module } from '../../../server/modules/module.js';
import { buildTestApp, getTestApp } from '../../helpers/app.js';
import { createClinic, signIn, type TestClinic } from '../../helpers/clinic.js';
import { createPatient } from '../../helpers/scheduling.js';

beforeAll(async () => {
  await getTestApp();
});

const day = (date: string, zone = '-03:00') => ({ from: `${date}T00:00:00${zone}`, to: `${date}T23:59:00${zone}` });

async function slots(clinic: TestClinic, query: Record<string, unknown>) {
  const res = await clinic.receptionist.agent.get('/api/availability').query({ professionalId: clinic.professional.id, durationMinutes: 60, ...query });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { timezone: string; slots: { startsAt: string; endsAt: string }[] };
}

const starts = (r: { slots: { startsAt: string }[] }) => r.slots.map((s) => s.startsAt.slice(11, 16));

describe('availability', () => {
  it('offers Monday to Friday 08:00-18:00 in the clinic zone by default, and nothing on weekends', async () => {
    const clinic = await createClinic();
    const monday = await slots(clinic, day('2030-03-11'));
    expect(monday.timezone).toBe('America/Sao_Paulo');
    expect(starts(monday)).toEqual(['08:00', '09:00', '10:00', '11:00', '12:00', '13:00', '14:00', '15:00', '16:00', '17:00']);
    expect(monday.slots[0]).toEqual({ startsAt: '2030-03-11T08:00:00-03:00', endsAt: '2030-03-11T09:00:00-03:00' });
    expect((await slots(clinic, day('2030-03-16'))).slots).toEqual([]);
  });

  it('answers in the professional’s zone: clinic in Manaus, professional in São Paulo', async () => {
    const clinic = await createClinic({ timezone: 'America/Manaus' });
    await clinic.admin.agent.patch(`/api/team/${clinic.professional.id}`).send({ timezone: 'America/Sao_Paulo' });
    // Cached calendars learn of member changes from the member.changed event, just after the commit.
    await clinic.app.infra.events.flush();
    // Hours inherited from the clinic are Manaus hours: 08:00 in Manaus is 09:00 in São Paulo.
    const inherited = await slots(clinic, day('2030-03-11'));
    expect(inherited.timezone).toBe('America/Sao_Paulo');
    expect(inherited.slots[0]?.startsAt).toBe('2030-03-11T09:00:00-03:00');
    expect(inherited.slots.at(-1)?.endsAt).toBe('2030-03-11T19:00:00-03:00');
    // The professional's own hours are read in their own zone (and the cached answer is dropped).
    const own = await clinic.admin.agent
      .patch(`/api/team/${clinic.professional.id}`)
      .send({ workingHours: { '1': [{ start: '08:00', end: '12:00' }, { start: '14:00', end: '16:00' }] } });
    expect(own.status).toBe(200);
    await clinic.app.infra.events.flush();
    const mine = await slots(clinic, day('2030-03-11'));
    expect(starts(mine)).toEqual(['08:00', '09:00', '10:00', '11:00', '14:00', '15:00']);
    expect((await slots(clinic, day('2030-03-12'))).slots).toEqual([]);
  });

  it('leaves out bookings, blocks and holidays, and is never stale after a change', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic);
    const before = await slots(clinic, day('2030-03-11'));
    expect(before.slots).toHaveLength(10);
    const booked = await clinic.receptionist.agent
      .post('/api/appointments')
      .send({ contactId, professionalId: clinic.professional.id, startsAt: '2030-03-11T10:30:00-03:00', durationMinutes: 30 });
    expect(starts(await slots(clinic, day('2030-03-11')))).not.toContain('10:00');
    await clinic.receptionist.agent.post(`/api/appointments/${booked.body.id}/status`).send({ status: 'cancelled', reason: 'remarcar' });
    expect(starts(await slots(clinic, day('2030-03-11')))).toContain('10:00');

    const block = await clinic.professional.agent
      .post('/api/schedule-blocks')
      .send({ professionalId: clinic.professional.id, startsAt: '2030-03-11T12:00:00-03:00', endsAt: '2030-03-11T14:00:00-03:00', reason: 'Congresso' });
    expect(block.status).toBe(201);
    expect(starts(await slots(clinic, day('2030-03-11')))).toEqual(['08:00', '09:00', '10:00', '11:00', '14:00', '15:00', '16:00', '17:00']);
    await clinic.professional.agent.delete(`/api/schedule-blocks/${block.body.id}`);
    expect(await slots(clinic, day('2030-03-11'))).toEqual(before);

    // A clinic-wide block (no professional) closes everyone.
    await clinic.admin.agent.post('/api/schedule-blocks').send({ startsAt: '2030-03-11T08:00:00-03:00', endsAt: '2030-03-11T09:00:00-03:00' });
    expect(starts(await slots(clinic, day('2030-03-11')))[0]).toBe('09:00');

    const local = await clinic.admin.agent.post('/api/holidays').send({ date: '2030-03-11', name: 'Aniversário da cidade' });
    expect(local.status).toBe(201);
    expect((await slots(clinic, day('2030-03-11'))).slots).toEqual([]);
    expect((await clinic.admin.agent.post('/api/holidays').send({ date: '2030-03-11', name: 'De novo' })).status).toBe(409);
    await clinic.admin.agent.delete(`/api/holidays/${local.body.overrideId}`);
    expect((await slots(clinic, day('2030-03-11'))).slots.length).toBeGreaterThan(0);
  });

  it('closes national holidays, Easter-based ones included, and lets a clinic reopen one', async () => {
    const clinic = await createClinic();
    // Easter 2030 is April 21: Good Friday is April 19; Carnaval Monday March 4; Corpus Christi June 20.
    const list = await clinic.receptionist.agent.get('/api/holidays').query({ year: 2030 });
    const dates = list.body.items.map((h: { date: string }) => h.date);
    expect(dates).toEqual(expect.arrayContaining(['2030-01-01', '2030-03-04', '2030-03-05', '2030-04-19', '2030-04-21', '2030-06-20', '2030-11-20', '2030-12-25']));
    expect((await slots(clinic, day('2030-04-19'))).slots).toEqual([]);
    expect((await slots(clinic, day('2030-03-04'))).slots).toEqual([]);
    const reopen = await clinic.admin.agent.post('/api/holidays').send({ date: '2030-03-04', name: 'Atendimento no Carnaval', open: true });
    expect(reopen.body).toMatchObject({ date: '2030-03-04', kind: 'optional', closed: false });
    expect((await slots(clinic, day('2030-03-04'))).slots).toHaveLength(10);
    expect((await clinic.receptionist.agent.post('/api/holidays').send({ date: '2030-03-05', name: 'x' })).status).toBe(201);
    expect((await clinic.professional.agent.post('/api/holidays').send({ date: '2030-03-06', name: 'x' })).status).toBe(403);
  });

  it('uses a busy source that a module declares (a calendar of another system) and refuses bad queries', async () => {
    const busyFor = { clinicId: '', professionalId: '' };
    const otherCalendar: Module = {
      name: 'other-calendar',
      services: {},
      provides: {
        busySources: [
          {
            name: 'other-calendar',
            busy: async (clinicId, professionalId) =>
              clinicId === busyFor.clinicId && professionalId === busyFor.professionalId
                ? [{ start: new Date('2030-03-11T11:00:00-03:00'), end: new Date('2030-03-11T11:30:00-03:00') }]
                : [],
          },
        ],
      },
    };
    const app = await buildTestApp({ modules: [otherCalendar] });
    onTestFinished(() => app.close());
    const clinic = await createClinic({ app });
    Object.assign(busyFor, { clinicId: clinic.id, professionalId: clinic.professional.id });
    expect(starts(await slots(clinic, day('2030-03-11')))).not.toContain('11:00');
    // The same clinic served by an app without that module keeps 11:00 free (30-minute slots: a
    // cache entry of its own, the apps share Redis on real servers).
    const plain = await signIn(await getTestApp(), clinic.receptionist.email);
    const without = await plain.get('/api/availability').query({ professionalId: clinic.professional.id, durationMinutes: 30, ...day('2030-03-11') });
    expect(starts(without.body)).toContain('11:00');
    const bad = [
      { professionalId: clinic.receptionist.id, ...day('2030-03-11') },
      { from: '2030-03-11T00:00:00', to: '2030-03-12T00:00:00-03:00' },
      { ...day('2030-03-11'), durationMinutes: 0 },
      { from: '2030-03-12T00:00:00-03:00', to: '2030-03-11T00:00:00-03:00' },
      { from: '2030-01-01T00:00:00-03:00', to: '2030-12-31T00:00:00-03:00' },
    ];
    const statuses = [];
    for (const q of bad) statuses.push((await clinic.receptionist.agent.get('/api/availability').query({ professionalId: clinic.professional.id, ...q })).status);
    expect(statuses).toEqual([404, 400, 400, 400, 400]);
  });
});

describe('calendar cache', () => {
  it('never serves a stale week view', async () => {
    const clinic = await createClinic();
    const contactId = await createPatient(clinic, { name: 'Nome Antigo' });
    const week = { professionalId: clinic.professional.id, from: '2030-03-11T00:00:00-03:00', to: '2030-03-18T00:00:00-03:00' };
    const view = async () => (await clinic.receptionist.agent.get('/api/appointments').query(week)).body.items as { id: string; status: string; contactName: string; tagId: string | null }[];
    expect(await view()).toEqual([]);
    const hitsBefore = clinic.app.infra.cache.stats.hits;
    expect(await view()).toEqual([]);
    expect(clinic.app.infra.cache.stats.hits).toBeGreaterThan(hitsBefore);

    const res = await clinic.receptionist.agent.post('/api/appointments').send({ contactId, professionalId: clinic.professional.id, startsAt: '2030-03-12T09:00:00-03:00', durationMinutes: 30 });
    expect((await view()).map((a) => a.id)).toEqual([res.body.id]);
    await clinic.receptionist.agent.post(`/api/appointments/${res.body.id}/status`).send({ status: 'confirmed' });
    expect((await view())[0]?.status).toBe('confirmed');
    await clinic.receptionist.agent.patch(`/api/contacts/${contactId}`).send({ name: 'Nome Novo' });
    // A patient's name reaches cached calendars through the contact.updated subscriber.
    await clinic.app.infra.events.flush();
    expect((await view())[0]?.contactName).toBe('Nome Novo');
    const tag = await clinic.admin.agent.post('/api/appointment-tags').send({ name: 'Particular', color: '#00ff00' });
    await clinic.receptionist.agent.patch(`/api/appointments/${res.body.id}`).send({ tagId: tag.body.id });
    expect((await view())[0]?.tagId).toBe(tag.body.id);
    await clinic.admin.agent.delete(`/api/appointment-tags/${tag.body.id}`);
    expect((await view())[0]?.tagId).toBeNull();
    // Moved to another professional: gone from this calendar.
    await clinic.receptionist.agent.patch(`/api/appointments/${res.body.id}`).send({ professionalId: clinic.doctorAdmin.id });
    expect(await view()).toEqual([]);
    await clinic.receptionist.agent.patch(`/api/appointments/${res.body.id}`).send({ professionalId: clinic.professional.id });
    expect(await view()).toHaveLength(1);
    await clinic.receptionist.agent.delete(`/api/appointments/${res.body.id}`);
    expect(await view()).toEqual([]);
  });
});
