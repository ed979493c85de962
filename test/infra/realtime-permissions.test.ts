import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPayload, ServerEvent } from '../../shared/api/events.js';
import { EVENT_PERMISSIONS } from '../../server/lib/event-permissions.js';
import { API_KEY_SCOPES, PERMISSIONS, type Permission } from '../../server/lib/permissions.js';
import { buildTestApp, TEST_ORIGIN, type TestApp } from '../helpers/app.js';
import { createClinic, type TestClinic } from '../helpers/clinic.js';
import { createPatient } from '../helpers/patients.js';
import { collect, listen, nextEvent, openSocket, sessionCookie, type ClientSocket, type RunningServer } from '../helpers/server.js';

const id = randomUUID();
/** One payload per event: a new event needs a sample here too (typecheck). */
const samples: { [E in ServerEvent]: EventPayload<E> } = {
  'clinic:updated': { id, name: 'Clínica', timezone: 'America/Sao_Paulo' },
  'team:updated': { userId: id, role: 'professional', isProfessional: true, active: true },
  'team:removed': { userId: id },
  'file:created': { id, filename: 'exame.pdf', contentType: 'application/pdf', size: 10 },
  'file:deleted': { id },
  'contact:created': { id, name: 'Maria da Silva', phone: '+5511987654321', status: 'active' },
  'contact:updated': { id, name: 'Maria da Silva', phone: '+5511987654321', status: 'active' },
  'contact:deleted': { id },
  'appointment:created': appointment(),
  'appointment:updated': appointment(),
  'appointment:deleted': { id, professionalId: id, startsAt: '2026-12-01T12:00:00Z', endsAt: '2026-12-01T12:30:00Z' },
  'appointment:reschedule_requested': { appointmentId: id, contactId: id, professionalId: id, startsAt: '2026-12-01T12:00:00Z', conversationId: id },
  'medical_record:signed': { id, contactId: id },
  'anamnesis:submitted': { id, contactId: id },
  'message:new': { id, conversationId: id, numberId: id, contactId: id, direction: 'inbound', sender: 'contact', type: 'text', status: 'delivery_ack', preview: 'Bom dia', sentAt: '2026-12-01T12:00:00Z' },
  'message:updated': { id, conversationId: id, numberId: id, status: 'read', mediaState: null },
  'conversation:updated': { id, contactId: id, numberId: id, status: 'open', assigneeId: null, unreadCount: 1 },
  'conversation:typing': { conversationId: id, userId: id },
  'assistant:handoff': { conversationId: id, contactId: id, numberId: id, reason: 'keyword', aiPausedUntil: '2026-12-01T12:00:00Z' },
  'whatsapp:status': { id, state: 'open', reason: null, professionalId: null },
  'knowledge_document:updated': { id, knowledgeBaseId: id, status: 'ready', failureReason: null, chunkCount: 3, revision: 1 },
  'test:ping': { at: '2026-12-01T12:00:00Z', by: 'test' },
  'opportunity:created': opportunity(),
  'opportunity:updated': opportunity(),
  'opportunity:moved': { ...opportunity(), fromStageId: null, toStageId: id, source: 'user' },
  'opportunity:deleted': { id, contactId: id, stageId: id },
  'pipeline:stages_updated': { clinicId: id, stages: [{ id, name: 'Novo contato', color: '#64748b', order: 0 }] },
  'calendar:conflict': { appointmentId: id, professionalId: id, kind: 'moved', startsAt: '2026-12-01T13:00:00Z', endsAt: '2026-12-01T13:30:00Z' },
  'calendar:integration_updated': { id, ownerUserId: id, status: 'broken', reason: 'invalid_grant' },
};

function opportunity(): EventPayload<'opportunity:created'> {
  return { id, contactId: id, stageId: id, position: 'a0', title: 'Implante', status: 'open', valueCents: 100, probability: null, ownerId: null, expectedCloseDate: null, stageEnteredAt: '2026-12-01T12:00:00Z' };
}

function appointment(): EventPayload<'appointment:created'> {
  return {
    id,
    contactId: id,
    contactName: 'Maria da Silva',
    professionalId: id,
    startsAt: '2026-12-01T12:00:00Z',
    endsAt: '2026-12-01T12:30:00Z',
    status: 'scheduled',
    type: null,
    tagId: null,
    overbooked: false,
    seriesId: null,
  };
}

const sockets: ClientSocket[] = [];
const track = (socket: ClientSocket) => (sockets.push(socket), socket);

let app: TestApp;
let running: RunningServer;
let clinic: TestClinic;

beforeAll(async () => {
  app = await buildTestApp();
  running = await listen(app);
  clinic = await createClinic({ app });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await running.close();
});

async function keySocket(scopes: readonly string[]): Promise<ClientSocket> {
  const created = await clinic.admin.agent.post('/api/api-keys').send({ name: `k-${scopes.length}`, scopes });
  expect(created.status).toBe(201);
  return track(await openSocket(running.url, { token: created.body.key as string }));
}

async function memberSocket(email: string): Promise<ClientSocket> {
  return track(await openSocket(running.url, { origin: TEST_ORIGIN, cookie: await sessionCookie(running.url, email) }));
}

describe('each socket event reaches only actors holding its HTTP read permission', () => {
  const permissions = [...new Set(Object.values(EVENT_PERMISSIONS))] as Permission[];
  const holders = new Map<Permission, ClientSocket[]>();
  const lackers = new Map<Permission, ClientSocket[]>();

  beforeAll(async () => {
    const [professional, receptionist, admin, everyScope] = await Promise.all([
      memberSocket(clinic.professional.email),
      memberSocket(clinic.receptionist.email),
      memberSocket(clinic.admin.email),
      keySocket(API_KEY_SCOPES),
    ]);
    for (const p of permissions) {
      if (PERMISSIONS[p].apiKey) {
        // A key with only this scope gets it; a key with every other scope does not.
        holders.set(p, [await keySocket([p]), professional, receptionist]);
        lackers.set(p, [await keySocket(API_KEY_SCOPES.filter((s) => s !== p))]);
      } else {
        // Clinical: professionals only, never a key, a receptionist or an admin who is not a professional.
        holders.set(p, [professional]);
        lackers.set(p, [everyScope, receptionist, admin]);
      }
    }
  });

  it.each(Object.keys(EVENT_PERMISSIONS) as ServerEvent[])('%s', async (event) => {
    const permission = EVENT_PERMISSIONS[event];
    const missed = (lackers.get(permission) ?? []).map((socket) => collect(socket, event));
    const received = (holders.get(permission) ?? []).map((socket) => nextEvent(socket, event));
    expect(received.length).toBeGreaterThan(0);
    expect(missed.length).toBeGreaterThan(0);

    app.infra.realtime.emitToClinic(clinic.id, event, samples[event]);

    for (const payload of await Promise.all(received)) expect(payload).toEqual(samples[event]);
    // The holders have it; a lacker's copy would have travelled with theirs.
    await new Promise((resolve) => setTimeout(resolve, 150));
    for (const seen of missed) expect(seen).toEqual([]);
  });
});

describe('the issue’s example over REST', () => {
  it('a key with only clinic:read gets 403 on contacts and no contact:created; a contacts:read key gets it', async () => {
    const weak = await clinic.admin.agent.post('/api/api-keys').send({ name: 'só clínica', scopes: ['clinic:read'] });
    const strong = await clinic.admin.agent.post('/api/api-keys').send({ name: 'contatos', scopes: ['contacts:read'] });
    const list = await fetch(`${running.url}/api/contacts`, { headers: { authorization: `Bearer ${weak.body.key as string}` } });
    expect(list.status).toBe(403);

    const [weakSocket, strongSocket] = await Promise.all([openSocket(running.url, { token: weak.body.key as string }), openSocket(running.url, { token: strong.body.key as string })]);
    track(weakSocket);
    track(strongSocket);
    const weakSaw = collect(weakSocket, 'contact:created');
    const strongGets = nextEvent(strongSocket, 'contact:created');
    const weakPing = nextEvent(weakSocket, 'test:ping');

    const patient = await createPatient(clinic);
    expect(await strongGets).toMatchObject({ id: patient.id, name: patient.name });
    // Emitted after the contact: once the weak key has the ping, it would have had the contact too.
    await clinic.receptionist.agent.post('/api/test/ping').expect(200);
    await weakPing;
    expect(weakSaw).toEqual([]);
  });
});
