import { beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { auditLog, opportunities } from '../../../shared/schema/index.js';
import { getTestApp } from '../../helpers/app.js';
import { createClinic, type TestClinic } from '../../helpers/clinic.js';
import { column, createOpportunity, stagesOf } from '../../helpers/pipeline.js';
import { createPatient } from '../../helpers/scheduling.js';

beforeAll(async () => {
  await getTestApp();
});

/** Every row of the clinic's opportunities with its updated_at: what a write touched. */
const snapshot = async (clinic: TestClinic) =>
  (await clinic.app.infra.db.select({ id: opportunities.id, stageId: opportunities.stageId, position: opportunities.position, updatedAt: opportunities.updatedAt }).from(opportunities).where(eq(opportunities.clinicId, clinic.id))).sort((a, b) =>
    a.id.localeCompare(b.id),
  );
const auditCount = async (clinic: TestClinic) =>
  (await clinic.app.infra.db.select({ n: sql<number>`count(*)::int` }).from(auditLog).where(eq(auditLog.clinicId, clinic.id)))[0]?.n ?? 0;

describe('stages', () => {
  it('starts every clinic with the six default stages, in order, once even when asked concurrently', async () => {
    const clinic = await createClinic();
    const answers = await Promise.all(Array.from({ length: 5 }, () => clinic.professional.agent.get('/api/pipeline/stages')));
    for (const res of answers) expect(res.status).toBe(200);
    const stages = await stagesOf(clinic);
    expect(stages.map((s) => s.name)).toEqual(['Novo contato', 'Qualificação', 'Agendado', 'Em tratamento', 'Fidelizado', 'Perdido']);
    expect(stages.map((s) => s.order)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const s of stages) expect(s.color).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('lets an admin add, rename, recolour and reorder stages; others get 403', async () => {
    const clinic = await createClinic();
    const added = await clinic.admin.agent.post('/api/pipeline/stages').send({ name: 'Orçamento enviado', color: '#ABCDEF', position: 2 });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ name: 'Orçamento enviado', color: '#abcdef', order: 2 });
    expect((await clinic.receptionist.agent.post('/api/pipeline/stages').send({ name: 'X', color: '#000000' })).status).toBe(403);
    expect((await clinic.admin.agent.post('/api/pipeline/stages').send({ name: 'orçamento ENVIADO', color: '#000000' })).body.error.code).toBe('stage_exists');

    const renamed = await clinic.admin.agent.patch(`/api/pipeline/stages/${added.body.id}`).send({ name: 'Proposta', color: '#112233' });
    expect(renamed.body).toMatchObject({ name: 'Proposta', color: '#112233' });

    const ids = (await stagesOf(clinic)).map((s) => s.id).reverse();
    const reordered = await clinic.admin.agent.post('/api/pipeline/stages/reorder').send({ ids });
    expect(reordered.status).toBe(200);
    expect(reordered.body.items.map((s: { id: string }) => s.id)).toEqual(ids);
    expect((await stagesOf(clinic)).map((s) => s.order)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('refuses a reorder that misses a stage or names another clinic’s, changing nothing', async () => {
    const [clinic, other] = await Promise.all([createClinic(), createClinic()]);
    const before = await stagesOf(clinic);
    const foreign = (await stagesOf(other))[0]!.id;
    const audits = await auditCount(clinic);
    for (const ids of [before.slice(1).map((s) => s.id), [...before.slice(1).map((s) => s.id), foreign]]) {
      const res = await clinic.admin.agent.post('/api/pipeline/stages/reorder').send({ ids });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_stage_order');
    }
    expect(await stagesOf(clinic)).toEqual(before);
    expect(await auditCount(clinic)).toBe(audits);
  });

  it('deletes an empty stage; one with opportunities only by moving them (409 stage_not_empty otherwise)', async () => {
    const clinic = await createClinic();
    const [first, second, third] = await stagesOf(clinic);
    const cards = [];
    for (let i = 0; i < 3; i++) cards.push(await createOpportunity(clinic, { stageId: second!.id }));
    const waiting = await createOpportunity(clinic, { stageId: third!.id });

    const refused = await clinic.admin.agent.delete(`/api/pipeline/stages/${second!.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'stage_not_empty', details: { opportunities: 3 } });
    expect((await column(clinic, second!.id)).map((c) => c.id)).toEqual(cards.map((c) => c.id));

    const moved = await clinic.admin.agent.delete(`/api/pipeline/stages/${second!.id}`).query({ moveTo: third!.id });
    expect(moved.status).toBe(204);
    // Appended below the target's own card, in their old order.
    expect((await column(clinic, third!.id)).map((c) => c.id)).toEqual([waiting.id, ...cards.map((c) => c.id)]);
    const history = await clinic.receptionist.agent.get(`/api/pipeline/opportunities/${cards[0]!.id}/history`);
    expect(history.body.items.at(-1)).toMatchObject({ kind: 'moved', fromStageId: second!.id, toStageId: third!.id, actorId: clinic.admin.id });
    expect((await stagesOf(clinic)).map((s) => s.id)).not.toContain(second!.id);
    expect((await stagesOf(clinic)).map((s) => s.order)).toEqual([0, 1, 2, 3, 4]);

    expect((await clinic.admin.agent.delete(`/api/pipeline/stages/${first!.id}`)).status).toBe(204);
  });

  it('refuses moving a stage’s cards into another clinic’s stage or into itself, changing nothing', async () => {
    const [clinic, other] = await Promise.all([createClinic(), createClinic()]);
    const [, second] = await stagesOf(clinic);
    const card = await createOpportunity(clinic, { stageId: second!.id });
    const foreign = (await stagesOf(other))[2]!.id;
    const before = await snapshot(clinic);
    const audits = await auditCount(clinic);
    const toForeign = await clinic.admin.agent.delete(`/api/pipeline/stages/${second!.id}`).query({ moveTo: foreign });
    expect(toForeign.status).toBe(404);
    const toSelf = await clinic.admin.agent.delete(`/api/pipeline/stages/${second!.id}`).query({ moveTo: second!.id });
    expect(toSelf.body.error.code).toBe('invalid_move_target');
    expect(await snapshot(clinic)).toEqual(before);
    expect(await auditCount(clinic)).toBe(audits);
    expect((await column(clinic, second!.id)).map((c) => c.id)).toEqual([card.id]);
  });
});

describe('opportunities', () => {
  it('creates a card for a patient of the clinic; another clinic’s patient or an inactive owner is refused', async () => {
    const [clinic, other] = await Promise.all([createClinic(), createClinic()]);
    const contactId = await createPatient(clinic, { name: 'Renata Lopes' });
    const res = await clinic.receptionist.agent
      .post('/api/pipeline/opportunities')
      .send({ contactId, title: 'Implante', valueCents: 450_000, probability: 60, expectedCloseDate: '2031-02-01', ownerId: clinic.professional.id });
    expect(res.status).toBe(201);
    const [first] = await stagesOf(clinic);
    expect(res.body).toMatchObject({ contactId, contactName: 'Renata Lopes', stageId: first!.id, status: 'open', valueCents: 450_000, probability: 60, expectedCloseDate: '2031-02-01', ownerId: clinic.professional.id, lostReason: null });

    const foreignPatient = await createPatient(other);
    expect((await clinic.receptionist.agent.post('/api/pipeline/opportunities').send({ contactId: foreignPatient, title: 'X' })).status).toBe(404);
    expect((await clinic.receptionist.agent.post('/api/pipeline/opportunities').send({ contactId, title: 'X', ownerId: other.admin.id })).status).toBe(404);
    expect((await clinic.receptionist.agent.post('/api/pipeline/opportunities').send({ contactId, title: 'X', stageId: (await stagesOf(other))[0]!.id })).status).toBe(404);
    await clinic.admin.agent.patch(`/api/team/${clinic.professional.id}`).send({ active: false });
    const inactive = await clinic.receptionist.agent.post('/api/pipeline/opportunities').send({ contactId, title: 'X', ownerId: clinic.professional.id });
    expect(inactive.status).toBe(422);
    expect(inactive.body.error.code).toBe('member_inactive');
    expect((await snapshot(clinic)).length).toBe(1);
  });

  it('closes as won or lost (lost needs a reason) and reopens', async () => {
    const clinic = await createClinic();
    const card = await createOpportunity(clinic);
    const noReason = await clinic.receptionist.agent.patch(`/api/pipeline/opportunities/${card.id}`).send({ status: 'lost' });
    expect(noReason.status).toBe(400);
    const lost = await clinic.receptionist.agent.patch(`/api/pipeline/opportunities/${card.id}`).send({ status: 'lost', lostReason: 'Achou caro' });
    expect(lost.body).toMatchObject({ status: 'lost', lostReason: 'Achou caro' });
    expect(lost.body.closedAt).toBeTypeOf('string');
    const reopened = await clinic.receptionist.agent.patch(`/api/pipeline/opportunities/${card.id}`).send({ status: 'open' });
    expect(reopened.body).toMatchObject({ status: 'open', lostReason: null, closedAt: null });
    const won = await clinic.receptionist.agent.patch(`/api/pipeline/opportunities/${card.id}`).send({ status: 'won' });
    expect(won.body.status).toBe('won');
    const kinds = (await clinic.receptionist.agent.get(`/api/pipeline/opportunities/${card.id}/history`)).body.items.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(['created', 'lost', 'reopened', 'won']);
  });

  it('places a card at a position, writing only that card (no renumbering of the column)', async () => {
    const clinic = await createClinic();
    const [first, second] = await stagesOf(clinic);
    const cards = [];
    for (let i = 0; i < 5; i++) cards.push(await createOpportunity(clinic, { stageId: second!.id }));
    const mover = await createOpportunity(clinic, { stageId: first!.id });
    const before = await snapshot(clinic);

    const res = await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${mover.id}/move`).send({ stageId: second!.id, position: 2 });
    expect(res.status).toBe(200);
    expect((await column(clinic, second!.id)).map((c) => c.id)).toEqual([cards[0]!.id, cards[1]!.id, mover.id, cards[2]!.id, cards[3]!.id, cards[4]!.id]);
    const after = await snapshot(clinic);
    const changed = after.filter((row, i) => JSON.stringify(row) !== JSON.stringify(before[i]));
    expect(changed.map((r) => r.id)).toEqual([mover.id]);

    // Within its column: to the top, then to the bottom.
    await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${cards[4]!.id}/move`).send({ stageId: second!.id, position: 0 });
    await clinic.receptionist.agent.post(`/api/pipeline/opportunities/${cards[0]!.id}/move`).send({ stageId: second!.id });
    expect((await column(clinic, second!.id)).map((c) => c.id)).toEqual([cards[4]!.id, cards[1]!.id, mover.id, cards[2]!.id, cards[3]!.id, cards[0]!.id]);
  });

  it('refuses positions out of range, another clinic’s stage and unknown ids with a clear 4xx, changing nothing', async () => {
    const [clinic, other] = await Promise.all([createClinic(), createClinic()]);
    const [first, second] = await stagesOf(clinic);
    await createOpportunity(clinic, { stageId: second!.id });
    const card = await createOpportunity(clinic, { stageId: first!.id });
    const before = await snapshot(clinic);
    const audits = await auditCount(clinic);
    const move = (body: object, id = card.id) => clinic.receptionist.agent.post(`/api/pipeline/opportunities/${id}/move`).send(body);

    const beyond = await move({ stageId: second!.id, position: 2 });
    expect(beyond.status).toBe(400);
    expect(beyond.body.error).toMatchObject({ code: 'position_out_of_range', details: { max: 1 } });
    expect((await move({ stageId: second!.id, position: -1 })).status).toBe(400);
    expect((await move({ stageId: second!.id, position: 1.5 })).status).toBe(400);
    expect((await move({ stageId: (await stagesOf(other))[1]!.id, position: 0 })).status).toBe(404);
    expect((await move({ stageId: '00000000-0000-4000-8000-000000000000' })).status).toBe(404);
    expect((await move({ stageId: second!.id }, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await clinic.receptionist.agent.post('/api/pipeline/opportunities').send({ contactId: '00000000-0000-4000-8000-000000000000', title: 'X' })).status).toBe(404);
    expect((await clinic.receptionist.agent.get('/api/pipeline/opportunities').query({ stageId: second!.id, cursor: 'not-a-key' })).status).toBe(400);

    expect(await snapshot(clinic)).toEqual(before);
    expect(await auditCount(clinic)).toBe(audits);
  });

  it('keeps a distinct, consistent order under many concurrent moves into one column', async () => {
    const clinic = await createClinic();
    const [first, second] = await stagesOf(clinic);
    const resident: { id: string }[] = [];
    for (let i = 0; i < 3; i++) resident.push(await createOpportunity(clinic, { stageId: second!.id }));
    const movers = [];
    for (let i = 0; i < 24; i++) movers.push(await createOpportunity(clinic, { stageId: first!.id }));

    // All at once, half to the top, half between the first two residents, a few to the end.
    const answers = await Promise.all(
      movers.map((m, i) => clinic.receptionist.agent.post(`/api/pipeline/opportunities/${m.id}/move`).send({ stageId: second!.id, ...(i % 3 === 2 ? {} : { position: i % 3 }) })),
    );
    for (const res of answers) expect(res.status, JSON.stringify(res.body)).toBe(200);

    const rows = await column(clinic, second!.id);
    expect(rows).toHaveLength(27);
    expect(new Set(rows.map((r) => r.position)).size).toBe(27);
    // The board order (by key, byte order) is the order the server lists.
    expect(rows.map((r) => r.position)).toEqual([...rows.map((r) => r.position)].sort());
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set([...resident, ...movers].map((c) => c.id)));
    // The residents kept their relative order: nothing renumbered them.
    const residentOrder = rows.filter((r) => resident.some((c) => c.id === r.id)).map((r) => r.id);
    expect(residentOrder).toEqual(resident.map((c) => c.id));
    expect(await column(clinic, first!.id)).toEqual([]);
  });

  it('pages a column in board order', async () => {
    const clinic = await createClinic();
    const [first] = await stagesOf(clinic);
    const cards = [];
    for (let i = 0; i < 5; i++) cards.push(await createOpportunity(clinic, { stageId: first!.id, position: 0 }));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await clinic.receptionist.agent.get('/api/pipeline/opportunities').query({ stageId: first!.id, limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...res.body.items.map((o: { id: string }) => o.id));
      cursor = res.body.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(cards.map((c) => c.id).reverse());
  });
});
